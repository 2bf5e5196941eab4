package snapshots

import "sync"

// Badger reads its tables through memory maps, and every page a read
// touches stays mapped into the process until the table closes. A plan
// touches many: the scan of every entry's fingerprint, and the point reads
// of changed records' attributes, each of which maps the page's
// neighbours too (the kernel's fault-around maps up to 16 pages already
// in its cache). A 1M-identity steady plan ended with 634 MB of tables
// mapped beside 200 MB of its own memory. Opening the store reads the
// newest value-log file through its map too, 198 MB after a large apply. Those pages are the kernel's
// page cache, which it can reclaim, but they count in the process's RSS,
// which is what monitors read and what the OOM killer scores.
//
// TrimMapped drops those mappings as they grow, but for each table's
// block index, which every seek reads (mappedkeep.go). It is safe only while no
// such file is unmapped: madvise(MADV_DONTNEED) on a range whose file was
// unmapped and whose addresses were reused for the process's own memory
// would zero that memory. Tables close only when a compaction replaces
// them, so the store trims only when opened with Options.NoCompactions.
// Value-log files close when the value-log GC rewrites them, or when
// writes fill one, and a plan does neither.

// trimBytes is how far the mapped file pages may grow between trims.
// Tests lower it.
var trimBytes int64 = 32 << 20

// trimStride is how many entries a store's own loops (ScanIndex, Lookup,
// DetailsOf, which counts a key's details in each target) read between checks: a 10k-record delta plan on a 10M
// store mapped 2.3 GB in the lookups of its one batch.
const trimStride = 1024

// trimAt checks for a trim when a loop has read a multiple of trimStride
// entries, counting from 0.
func (s *Store) trimAt(n int) {
	if n%trimStride == trimStride-1 {
		s.TrimMapped()
	}
}

// mappedTrim is a store's trimming state.
type mappedTrim struct {
	mu   sync.Mutex
	on   bool   // opened with NoCompactions, on a directory
	dir  string // the state directory, as /proc/self/maps names it
	last int64  // mapped file bytes after the last trim
	// keep is what a trim leaves mapped of each table (mappedkeep.go).
	keep map[string][]span
}
