package snapshots

import "path/filepath"

// memTable is the size of Badger's memtables. A first apply writes
// millions of entries, and at 16 MB flushing and compacting the small
// tables was an eighth more CPU (100k creates: 9.6 s against 8.4 s).
const memTable = 64 << 20

// planMemTable is the memtable of a store opened with NoCompactions: a
// plan writes next to nothing (a crashed apply's recovery, a few
// commits), but Badger allocates its memtable's whole arena as it opens,
// 83 MB at 64 MB, and Go clears an allocation that reuses heap the
// process has used. In about one 10M delta plan in ten it did: 21k page
// faults more, and an open of 0.57 s against 0.19-0.25 s. Commits stay
// under Badger's batch limit, 15% of the memtable (1.2 MB here), and a
// plan that did write more would flush small tables, not fail.
const planMemTable = 8 << 20

// memTableSize is the memtable to open dir with under opts. A memtable
// file left by a process that stopped without closing the store is
// replayed into an arena of that size, and Badger stops the process if
// it does not fit, so a store with one opens with the full size.
func memTableSize(dir string, opts Options) int64 {
	if !opts.NoCompactions || opts.InMemory {
		return memTable
	}
	left, err := filepath.Glob(filepath.Join(dir, "*.mem"))
	if err != nil || len(left) > 0 {
		return memTable
	}
	return planMemTable
}
