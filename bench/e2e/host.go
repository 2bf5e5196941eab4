package main

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/idsync/idsync/pipeline"
)

// hostFacts are what moves the bench's ratios from one host to another
// with the code unchanged. The floor streams its file through read(2) and
// touches little memory; a plan touches a couple of hundred MB of fresh
// heap and reads changed records' state from Badger's mapped tables, so it
// pays for page faults that the floor does not. The same code measured
// 4.25x the floor on one host and 6.1-6.9x on another, where the first
// touch of a mapped page cost five times a pread of it (see README).
type hostFacts struct {
	CPU string `json:"cpu"`
	// THP is the transparent huge page mode ("madvise" when Go's heap,
	// which does not ask for them, gets none).
	THP string `json:"transparentHugePages"`
	// AnonTouch is the first touch of each 4 KB of fresh anonymous memory,
	// as a growing heap pays it.
	AnonTouch float64 `json:"anonTouchMicros"`
	// FileTouch is the first touch, at random, of a cached file's page
	// through a shared map, as a point read of Badger's tables pays it.
	FileTouch float64 `json:"fileTouchMicros"`
	// Pread is a 4 KB pread(2) of the same file at random, for scale.
	Pread float64 `json:"preadMicros"`
	// ReportingOrder is the order of the free blocks a guest's kernel hands
	// back to its hypervisor (free page reporting: 9 is 2 MB), -1 without
	// it, and ReportedGiB how much it has handed back since boot. Memory
	// handed back is backed again at its next first touch, at the
	// hypervisor's cost: on the bench's host that is most of AnonTouch, and
	// a process that starts right after another has freed its memory, before
	// the kernel reported it, touches memory that is still backed (see
	// README, Performance).
	ReportingOrder int     `json:"freePageReportingOrder"`
	ReportedGiB    float64 `json:"freePagesReportedGiB"`
}

// host is this run's facts, probed once the floor has read its file.
var host hostFacts

const (
	pageBytes   = 4 << 10
	windowBytes = 64 << 10 // the kernel's default fault-around: a touch maps its 64 KB window
	anonBytes   = 64 << 20
	fileTouches = 2000
)

// probeHost measures the costs above, file's on file, which must be in
// the page cache (the floor has just read it) and at least 16 MB long.
// A fact it cannot measure stays zero.
func probeHost(file string) hostFacts {
	h := hostFacts{CPU: cpuModel("/proc/cpuinfo"), THP: pipeline.HugePageMode()}
	h.ReportingOrder, h.ReportedGiB = pageReporting(pageReportingParams)
	h.AnonTouch = anonTouch()
	h.FileTouch, h.Pread = fileTouch(file)
	return h
}

func anonTouch() float64 {
	m, err := syscall.Mmap(-1, 0, anonBytes, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return 0
	}
	defer func() { _ = syscall.Munmap(m) }()
	start := time.Now()
	for i := 0; i < len(m); i += pageBytes {
		m[i] = 1
	}
	return micros(time.Since(start), anonBytes/pageBytes)
}

// fileTouch touches one page in each of fileTouches distinct 64 KB
// windows, so that no touch lands on a page an earlier one's fault-around
// mapped, and then preads as many pages.
func fileTouch(file string) (touch, pread float64) {
	f, err := os.Open(file)
	if err != nil {
		return 0, 0
	}
	defer func() { _ = f.Close() }()
	st, err := f.Stat()
	windows := int(st.Size() / windowBytes)
	if err != nil || windows < 256 {
		return 0, 0
	}
	m, err := syscall.Mmap(int(f.Fd()), 0, windows*windowBytes, syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return 0, 0
	}
	defer func() { _ = syscall.Munmap(m) }()
	picks := rand.Perm(windows)[:min(windows, fileTouches)]
	var sum byte
	start := time.Now()
	for _, w := range picks {
		sum += m[w*windowBytes+pageBytes*(w%(windowBytes/pageBytes))]
	}
	touch = micros(time.Since(start), len(picks))
	buf := make([]byte, pageBytes)
	start = time.Now()
	for _, w := range picks {
		if _, err := f.ReadAt(buf, int64(w)*windowBytes); err != nil {
			return touch, 0
		}
		sum += buf[0]
	}
	pread = micros(time.Since(start), len(picks))
	runtime.KeepAlive(sum) // so that the compiler keeps the reads
	return touch, pread
}

func micros(d time.Duration, n int) float64 {
	return float64(d) / float64(time.Microsecond) / float64(n)
}

// pageReportingParams is where Linux shows free page reporting's settings.
const pageReportingParams = "/sys/module/page_reporting/parameters"

// pageReporting reads the order of the blocks free page reporting hands
// back and how much it has handed back, from params; order -1 when the
// kernel has none.
func pageReporting(params string) (order int, gib float64) {
	read := func(name string) (int64, bool) {
		b, err := os.ReadFile(filepath.Join(params, name))
		if err != nil {
			return 0, false
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		return n, err == nil
	}
	o, ok := read("page_reporting_order")
	if !ok {
		return -1, 0
	}
	kib, _ := read("reported_kib") // not in every kernel
	return int(o), float64(kib) / (1 << 20)
}

func cpuModel(cpuinfo string) string {
	f, err := os.Open(cpuinfo)
	if err != nil {
		return ""
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if name, value, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(name) == "model name" {
			return strings.TrimSpace(value)
		}
	}
	return ""
}

func (h hostFacts) String() string {
	s := fmt.Sprintf("host: %s; transparent huge pages %s; first touch of fresh memory %.2f µs per 4 KB, of a cached file's page through a map %.1f µs; a 4 KB pread %.1f µs",
		h.CPU, h.THP, h.AnonTouch, h.FileTouch, h.Pread)
	if h.ReportingOrder >= 0 {
		s += fmt.Sprintf("; free memory handed back to the hypervisor in blocks of order %d (%.0f GiB since boot)", h.ReportingOrder, h.ReportedGiB)
	}
	return s
}
