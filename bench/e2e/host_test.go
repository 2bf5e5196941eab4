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

func TestTHPMode(t *testing.T) {
	dir := t.TempDir()
	for setting, want := range map[string]string{
		"always [madvise] never\n": "madvise",
		"[always] madvise never\n": "always",
		"always madvise never\n":   "",
		"always [madvise never\n":  "",
	} {
		file := filepath.Join(dir, "enabled")
		if err := os.WriteFile(file, []byte(setting), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := thpMode(file); got != want {
			t.Errorf("thpMode(%q) = %q, want %q", setting, got, want)
		}
	}
	if got := thpMode(filepath.Join(dir, "missing")); got != "" {
		t.Errorf("a missing setting gave %q", got)
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
