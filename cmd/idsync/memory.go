package main

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// usableMemory is how many bytes this process may use: the machine's
// memory (MemTotal in meminfo), or its cgroup's limit when that is lower,
// as in a container. It returns 0 when neither can be read. proc and
// cgroup are normally /proc and /sys/fs/cgroup; tests point them elsewhere.
func usableMemory(proc, cgroup string) int64 {
	total := memTotal(filepath.Join(proc, "meminfo"))
	if limit := cgroupLimit(proc, cgroup); limit > 0 && (total == 0 || limit < total) {
		return limit
	}
	return total
}

// memTotal reads MemTotal, in bytes, from a meminfo file, or 0.
func memTotal(path string) int64 {
	raw, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

// cgroupLimit reads the memory limit of this process's cgroup, v2 or v1,
// in bytes, or 0 when it has none ("max", or v1's near-2^63 stand-in).
func cgroupLimit(proc, cgroup string) int64 {
	raw, err := os.ReadFile(filepath.Join(proc, "self", "cgroup"))
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(raw)) {
		// hierarchy-id:controllers:path
		parts := strings.SplitN(strings.TrimSpace(line), ":", 3)
		if len(parts) != 3 {
			continue
		}
		var file string
		switch {
		case parts[0] == "0" && parts[1] == "":
			file = filepath.Join(cgroup, parts[2], "memory.max")
		case slices.Contains(strings.Split(parts[1], ","), "memory"):
			file = filepath.Join(cgroup, "memory", parts[2], "memory.limit_in_bytes")
		default:
			continue
		}
		raw, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(raw)), 10, 64)
		if err == nil && n > 0 && n < 1<<62 {
			return n
		}
	}
	return 0
}
