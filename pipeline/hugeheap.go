package pipeline

import (
	"bytes"
	"os"
	"strings"
	"sync/atomic"
)

// A first sync's plan keeps nearly all it allocates, about 1.8 GB for
// 1M identities and 3 targets, and each page of that is new to the
// process. Where the kernel leaves transparent huge pages to programs
// (THP "madvise", the default of many distributions), Go's heap gets 4 KB
// pages and the plan takes one page fault per 4 KB: 440k faults for that
// plan. On a host where a first touch cost 12 µs (the bench's host
// probe), that plan took 6.97-7.10 s; with the heap it was about to fill
// advised for huge pages (adviseHugeHeap), 4.83-5.30 s, with 50k faults
// when the advice came as the op lists were sized, and 10k when it came
// before the read. A first wave of the same load (opsPerRun's default,
// 500k ops a target) took 2.87-4.32 s against 4.71-6.85 s in four pairs,
// at the same peak (about 1 GB). See README, Performance.
//
// A first sync large enough gets the advice (expectedCreates, before the
// read): its heap is dense, so huge pages cost it little memory (a peak
// of 1.77-1.78 GB against 1.74-1.75 GB). Later plans get a bounded
// advice, once a process (hugeheap_later.go).

// createUnit is what hugeHeapFor counts for each expected create: the
// bytes a create's op took in the lists when its factors were measured.
// A first plan touches less since (88-byte ops, its batches and the rules'
// strings reused: 1.0 GB at 1M instead of 1.44), so the advice now passes
// its peak; advising more heap than a plan touches costs only address
// space.
const createUnit = 168

// hugeHeapFor is how much heap to advise for a plan expected to make
// creates creates: four times the op lists they take, sixteen times when
// the plan is to be applied, up to hugeHeapMost, and none when those lists
// would be under hugeHeapLeast. A 1M first plan's peak was about three
// times its op lists (the ops' values, the compiled rules' strings and the
// read's batches make the rest). Its apply's heap peaked at 2.3-2.5 GB,
// 14 times the creates' op lists: each create gets a membership op,
// sending and committing them makes garbage at the rate of the whole
// plan, and Badger's memtables are Go memory too. With only the plan's
// share advised, that apply (1M creates to SQLite) took 526-601k page
// faults; with 3 GB, 142-161k, and 32.2-35.5 s against 36.4-37.5 s in
// three pairs; as landed, 31.7 and 31.9 s against 36.3 and 36.9 s, at
// peaks 0.1-0.2 GB higher.
func hugeHeapFor(creates int64, apply bool) int64 {
	ops := max(creates, 0) * createUnit
	if ops < hugeHeapLeast {
		return 0
	}
	if apply {
		return min(16*ops, hugeHeapMost)
	}
	return min(4*ops, hugeHeapMost)
}

// expectedCreates guesses how many creates a read of rows records will
// plan: in each target with no entries yet, every record, up to its
// opsPerRun. A first sync creates nearly all of them, bounded or not.
// Targets with entries count none: their creates cannot be told from
// their counts (a scoped target holds a fraction of the records), and
// counting them as records minus entries advised a steady plan's heap.
// Zero when rows is unknown (-1) or a count cannot be read.
func (e *Engine) expectedCreates(rows int, active []*targetRun) int64 {
	var n int64
	for _, tr := range active {
		have, err := e.store.Count(tr.t.cfg.Name)
		if err != nil {
			return 0
		}
		if have > 0 || rows <= 0 {
			continue
		}
		c := rows
		if bound := tr.t.cfg.OpsPerRun; bound > 0 {
			c = min(c, bound)
		}
		n += int64(c)
	}
	return n
}

// hugeHeapLeast is the op lists' size below which a plan is too small for
// its page faults to matter (64 MB of ops is about 330k of them); small
// syncs, and tests, skip the collection the advice costs. Tests lower it.
var hugeHeapLeast int64 = 64 << 20

// hugeHeapsAdvised counts the heaps adviseHugeHeap advised, and
// hugeHeapBytes adds up their sizes, for tests.
var hugeHeapsAdvised, hugeHeapBytes atomic.Int64

// hugeHeapMost is the most address space adviseHugeHeap reserves and
// advises. It is address space, not memory: pages are backed only when
// touched. A larger first sync gets huge pages for its first 4 GB and
// 4 KB pages after.
const hugeHeapMost = 4 << 30

// Where Linux says how it hands out huge pages and how it accounts for
// memory; tests point them elsewhere.
var (
	thpSetting       = "/sys/kernel/mm/transparent_hugepage/enabled"
	overcommitPolicy = "/proc/sys/vm/overcommit_memory"
)

// HugePageMode is the kernel's transparent huge page mode: "always",
// "madvise", "never", or "" when it cannot be read. The bench records it
// with every run.
func HugePageMode() string { return hugePageMode(thpSetting) }

// hugePageMode is the bracketed choice in setting, as in "always
// [madvise] never".
func hugePageMode(setting string) string {
	b, err := os.ReadFile(setting)
	if err != nil {
		return ""
	}
	_, rest, ok := bytes.Cut(b, []byte("["))
	mode, _, ok2 := bytes.Cut(rest, []byte("]"))
	if !ok || !ok2 {
		return ""
	}
	return string(mode)
}

// wantsHugeHeap says whether adviseHugeHeap should advise: only when the
// kernel leaves huge pages to the program ("always" gives them anyway,
// "never" refuses), when the user has not turned them off for Go
// (GODEBUG=disablethp=1), and when reserving address space does not
// charge memory (overcommit policy 2, strict accounting, would count the
// whole reservation against the machine's commit limit).
func wantsHugeHeap() bool {
	if HugePageMode() != "madvise" {
		return false
	}
	for _, kv := range strings.Split(os.Getenv("GODEBUG"), ",") {
		if strings.TrimSpace(kv) == "disablethp=1" {
			return false
		}
	}
	policy, err := os.ReadFile(overcommitPolicy)
	return err == nil && strings.TrimSpace(string(policy)) != "2"
}
