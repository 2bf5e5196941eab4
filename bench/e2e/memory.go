package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// memoryPeak is the most memory a measured command's processes held at
// once, split as the kernel splits RSS: anonymous memory is the process's
// own; file-backed is files it has mapped, here mostly Badger's tables,
// which are the page cache's to drop.
type memoryPeak struct {
	anonKB, fileKB int64
}

// sampleMemory polls the processes under pid (the /usr/bin/time that runs
// the command) every 10 ms until stop is closed, then sends the peak. A
// peak shorter than 10 ms can be missed.
func sampleMemory(pid int, stop <-chan struct{}) <-chan memoryPeak {
	out := make(chan memoryPeak, 1)
	go func() {
		var peak memoryPeak
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			var now memoryPeak
			for _, child := range descendants(pid) {
				anon, file := rssOf(child)
				now.anonKB += anon
				now.fileKB += file
			}
			peak.anonKB, peak.fileKB = max(peak.anonKB, now.anonKB), max(peak.fileKB, now.fileKB)
			select {
			case <-stop:
				out <- peak
				return
			case <-tick.C:
			}
		}
	}()
	return out
}

// descendants lists the processes under pid, not pid itself.
func descendants(pid int) []int {
	var all []int
	for _, child := range children(pid) {
		all = append(append(all, child), descendants(child)...)
	}
	return all
}

func children(pid int) []int {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		return nil // it has ended
	}
	var pids []int
	for _, f := range strings.Fields(string(raw)) {
		if n, err := strconv.Atoi(f); err == nil {
			pids = append(pids, n)
		}
	}
	return pids
}

// rssOf reads a process's RssAnon and RssFile, in kB.
func rssOf(pid int) (anon, file int64) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		switch name {
		case "RssAnon":
			anon = kb
		case "RssFile":
			file = kb
		}
	}
	return anon, file
}
