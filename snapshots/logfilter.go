package snapshots

import (
	"encoding/binary"

	"github.com/cespare/xxhash/v2"
)

// A log value's filter (v10) says which keys' records the value may hold
// and when they were made: the time of its earliest and latest record,
// then a Bloom filter of its records' keys. ScanHistory reads every
// filter, and only the values whose filter may hold its key.
//
// It replaced a history key per record (v6 to v9), which let a lookup
// read only its key's records but cost an apply one Badger entry more
// per op: a first apply of 1M users wrote 2M of them, a quarter of its
// entries, each through Badger's memtable, write-ahead log and flush.
// Without them that apply to SQLite took 0.79-0.95x the time in five
// alternating pairs (median 0.86x), and 0.83x the CPU; see README,
// Performance. The log is read one identity at a time (idsync log), and
// a lookup now reads every filter, about 1.3 KB for each 1,000 records
// kept, and decompresses the values whose filters hold its key, or
// wrongly say they do. After that apply, the whole command took 0.15 s
// against 0.09-0.14 s. In 20M records (28,572 values) it took 0.30 s
// against 0.09-0.11 s, at a 214-228 MB peak against 64-96 MB; writing
// them took 14.4 s against 51.8 s.
const (
	filterBitsPerKey = 10 // about 1% false positives at filterHashes
	filterHashes     = 7
	filterHeader     = 16 // the two times
)

func filterKey(n uint64) []byte { return binary.BigEndian.AppendUint64([]byte{famFilter}, n) }

// newFilter returns the filter of entries, which are not empty.
func newFilter(entries []HistoryEntry) []byte {
	from, to := entries[0].At.UnixNano(), entries[0].At.UnixNano()
	for _, h := range entries[1:] {
		from, to = min(from, h.At.UnixNano()), max(to, h.At.UnixNano())
	}
	size := max(8, (len(entries)*filterBitsPerKey+7)/8)
	f := make([]byte, filterHeader+size)
	binary.BigEndian.PutUint64(f, uint64(from))
	binary.BigEndian.PutUint64(f[8:], uint64(to))
	bits := f[filterHeader:]
	for _, h := range entries {
		forEachBit(h.Key, len(bits)*8, func(i uint32) bool {
			bits[i/8] |= 1 << (i % 8)
			return true
		})
	}
	return f
}

// filterMayHold reports whether the value filter f describes may hold a
// record of key made at since or later. An unreadable filter may hold
// anything: the value itself then decides.
func filterMayHold(f []byte, key string, since int64) bool {
	if len(f) <= filterHeader {
		return true
	}
	if int64(binary.BigEndian.Uint64(f[8:])) < since {
		return false
	}
	bits := f[filterHeader:]
	return forEachBit(key, len(bits)*8, func(i uint32) bool { return bits[i/8]&(1<<(i%8)) != 0 })
}

// forEachBit calls fn with each of key's filterHashes bit positions in a
// filter of m bits, by double hashing one 64-bit hash, until fn returns
// false; it reports whether fn never did.
func forEachBit(key string, m int, fn func(uint32) bool) bool {
	h := xxhash.Sum64String(key)
	a, b := uint32(h), uint32(h>>32)|1
	for i := range uint32(filterHashes) {
		if !fn((a + i*b) % uint32(m)) {
			return false
		}
	}
	return true
}
