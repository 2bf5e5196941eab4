package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestProbeHost(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "input.csv")
	if err := os.WriteFile(file, make([]byte, 20<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	h := probeHost(file)
	if h.AnonTouch <= 0 || h.FileTouch <= 0 || h.Pread <= 0 {
		t.Fatalf("probe measured nothing: %+v", h)
	}
	t.Log(h)
	if small := filepath.Join(dir, "small.csv"); os.WriteFile(small, make([]byte, 1<<20), 0o644) == nil {
		if h := probeHost(small); h.FileTouch != 0 || h.Pread != 0 {
			t.Errorf("a file under 16 MB was probed: %+v", h)
		}
	}
}

func TestCPUModel(t *testing.T) {
	file := filepath.Join(t.TempDir(), "cpuinfo")
	info := "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\ncache size\t: 512 KB\n"
	if err := os.WriteFile(file, []byte(info), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := cpuModel(file); got != "AMD EPYC 7B13" {
		t.Errorf("cpuModel = %q", got)
	}
}
