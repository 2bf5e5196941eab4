package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestUsableMemoryIsTheLowerOfMachineAndCgroup reads fake /proc and
// /sys/fs/cgroup trees: a cgroup limit lower than the machine's memory
// wins, no limit ("max", or v1's huge stand-in) leaves the machine's, and
// nothing readable is 0.
func TestUsableMemoryIsTheLowerOfMachineAndCgroup(t *testing.T) {
	const meminfo = "MemTotal:       24684292 kB\nMemFree:        15000000 kB\n"
	const machine = 24684292 << 10
	for name, tc := range map[string]struct {
		cgroupOf string            // /proc/self/cgroup
		files    map[string]string // under the cgroup root
		meminfo  string
		want     int64
	}{
		"v2 limit":         {"0::/kubepods/pod1\n", map[string]string{"kubepods/pod1/memory.max": "4294967296\n"}, meminfo, 4 << 30},
		"v2 max":           {"0::/\n", map[string]string{"memory.max": "max\n"}, meminfo, machine},
		"v1 limit":         {"4:memory:/box\n3:cpu:/\n", map[string]string{"memory/box/memory.limit_in_bytes": "2147483648\n"}, meminfo, 2 << 30},
		"v1 none":          {"4:cpuacct,memory:/box\n", map[string]string{"memory/box/memory.limit_in_bytes": "9223372036854771712\n"}, meminfo, machine},
		"over the machine": {"0::/\n", map[string]string{"memory.max": "99999999999999\n"}, meminfo, machine},
		"no meminfo":       {"0::/\n", map[string]string{"memory.max": "1073741824\n"}, "", 1 << 30},
		"nothing":          {"", nil, "", 0},
	} {
		t.Run(name, func(t *testing.T) {
			proc, cgroup := t.TempDir(), t.TempDir()
			write(t, filepath.Join(proc, "self", "cgroup"), tc.cgroupOf)
			if tc.meminfo != "" {
				write(t, filepath.Join(proc, "meminfo"), tc.meminfo)
			}
			for path, body := range tc.files {
				write(t, filepath.Join(cgroup, path), body)
			}
			if got := usableMemory(proc, cgroup); got != tc.want {
				t.Errorf("usableMemory = %d, want %d", got, tc.want)
			}
		})
	}
}

func write(t *testing.T, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestPlanMemoryLimitYieldsToTheEnvironment: GOGC or GOMEMLIMIT set by the
// user means no limit of idsync's own.
func TestPlanMemoryLimitYieldsToTheEnvironment(t *testing.T) {
	for _, name := range []string{"GOGC", "GOMEMLIMIT"} {
		t.Run(name, func(t *testing.T) {
			t.Setenv(name, "200")
			if got := planMemoryLimit(); got != 0 {
				t.Errorf("planMemoryLimit with %s set = %d, want 0", name, got)
			}
		})
	}
}
