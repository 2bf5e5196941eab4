package main

import (
	"os"
	"path/filepath"
	"strings"
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

func TestPageReporting(t *testing.T) {
	dir := t.TempDir()
	if order, _ := pageReporting(filepath.Join(dir, "none")); order != -1 {
		t.Errorf("a kernel without free page reporting: order %d, want -1", order)
	}
	for name, v := range map[string]string{"page_reporting_order": "9\n", "reported_kib": "2097152\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if order, gib := pageReporting(dir); order != 9 || gib != 2 {
		t.Errorf("pageReporting = %d, %g GiB; want 9, 2 GiB", order, gib)
	}
	h := hostFacts{ReportingOrder: 9, ReportedGiB: 2}
	if s := h.String(); !strings.Contains(s, "blocks of order 9 (2 GiB since boot)") {
		t.Errorf("host line does not say it: %s", s)
	}
	if s := (hostFacts{ReportingOrder: -1}).String(); strings.Contains(s, "hypervisor") {
		t.Errorf("host line mentions reporting the kernel does not do: %s", s)
	}
}
