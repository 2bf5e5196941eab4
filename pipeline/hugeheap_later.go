package pipeline

import "sync/atomic"

// Plans after a first sync touch less heap, but nearly all of it is new
// to the process too, and on the bench's host each new 4 KB page cost
// about 15 µs:
//
//   - a full plan builds its index of every key (about 70 bytes a key
//     at 3 targets) beside the read's batches: a 1M steady plan (1%
//     changed) touched about 150 MB, 46k page faults. Advised 256 MB, it
//     took 11.5k faults, and 1.07-1.13 s against 1.41-1.56 s, at a peak
//     RSS of 217-224 MB against 210-215 MB (three runs each);
//   - a delta plan's heap is small, but a 10k-record delta on the
//     bench's 10M state touched about 70 MB of it, 18k of its 43k page
//     faults. Advised, it took 25k faults, and 1.10-1.22 s against
//     1.27-1.59 s, at the same peak RSS.
//
// Badger's 83 MB memtable, reserved at open and untouched by a plan,
// sits below the advised range.
//
// It is advised once a process: the advice stays with the range, and a
// daemon's next plans reuse it. Advising again would hand all free
// memory back to the kernel each run (debug.FreeOSMemory), to be faulted
// in again. See README, Performance.

// hugeHeapPerDeltaRecord is the heap advised for each record a delta
// expects to read: about twice the 7 KB a record of that delta touched.
const hugeHeapPerDeltaRecord = 16 << 10

// hugeHeapDeltaMost bounds a delta's advice; a larger delta gets 4 KB
// pages past it.
const hugeHeapDeltaMost = 256 << 20

// hugeHeapPerKey is the heap advised for each key a full plan indexes:
// somewhat more than the 150 bytes a key of that steady plan touched.
// Tests raise it.
var hugeHeapPerKey int64 = 256

// laterHeapAdvised is set once a plan after a first sync in this process
// has asked.
var laterHeapAdvised atomic.Bool

// laterHugeHeap is how much heap to advise for a plan that is not a first
// sync: a delta expected to read rows records, or a full plan of keys
// keys (the most of the records it expects and any target's entries).
// None when that is under hugeHeapLeast (a delta of about 4,000 records,
// a full plan of about 260k keys), and none after the process's first.
func laterHugeHeap(full bool, rows, keys int) int64 {
	size := min(int64(max(rows, 0))*hugeHeapPerDeltaRecord, hugeHeapDeltaMost)
	if full {
		size = min(int64(max(keys, rows, 0))*hugeHeapPerKey, hugeHeapMost)
	}
	if size < hugeHeapLeast || laterHeapAdvised.Swap(true) {
		return 0
	}
	return size
}

// indexFiles reports whether every target of a full read has its entries
// in the index cache files. A read that walks Badger to make them is left
// 4 KB pages: its garbage (Badger's blocks, decompressed) spreads over
// the advised range, and a huge page partly used is backed whole. The 1M
// bench's first plan after its apply peaked at 342-346 MB in two of seven
// runs advised, against 195-212 MB in seven without, in the same time
// (medians 4.71 and 4.90 s). The process's advice waits for the next
// plan.
func (e *Engine) indexFiles(active []*targetRun) bool {
	for _, tr := range active {
		if !e.store.HasIndexFiles(tr.t.cfg.Name) {
			return false
		}
	}
	return true
}

// mostEntries is the most entries any of active holds, 0 when a count
// cannot be read.
func (e *Engine) mostEntries(active []*targetRun) int {
	most := 0
	for _, tr := range active {
		n, err := e.store.Count(tr.t.cfg.Name)
		if err != nil {
			return 0
		}
		most = max(most, n)
	}
	return most
}
