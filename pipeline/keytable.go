package pipeline

import (
	"hash/maphash"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"
)

// keyTable numbers keys: it finds a key's number with one probe of a hash
// table, and gives a number's key back. Keys sit back to back in one byte
// arena and nothing in the table holds a pointer, so the garbage collector
// never scans it and adding a key allocates nothing of its own.
//
// A full read's table is filled from state in key order (sorted). It
// then starts with no hash table at all: sources are usually exported in
// key order, so a record is most often the key after the previous
// record's (findNear checks that first), and the rest are found by binary
// search. Only a source that keeps missing that guess pays for the hash
// table, built once the misses pass mapAfterMisses. Numeric employee ids
// do miss: "E10000000" sorts before "E9999999".
type keyTable struct {
	// sum hashes keys: maphash with the table's own seed (tests collide
	// keys on purpose by replacing it).
	sum func(key string) uint64
	// cells is an open-addressing hash table, probed linearly, at most
	// three quarters full: each cell holds the upper half of its key's
	// hash and the key's number plus one, and 0 is an empty cell. At 8
	// bytes a cell it is a quarter to a half of a Go map from hash to
	// number (310 MB at 10M keys), and the half hash rules out almost
	// every other key without reading it.
	cells []uint64
	// arena holds the keys back to back; key n ends at ends[n] and starts
	// where key n-1 ends. An end a key, not a span, is 40 MB less at 10M.
	arena []byte
	ends  []uint32

	sorted   bool
	hashed   atomic.Bool // cells index every key
	build    sync.Once
	misses   atomic.Int64
	mapAfter int64 // mapAfterMisses; tests lower it
}

// mapAfterMisses is how many guesses a sorted table may miss before it
// builds its hash table: a binary search costs a few probes, so a source
// in another order soon pays for it, and one in key order never needs it.
const mapAfterMisses = 1 << 16

// nearWindow is how many keys from its guess findNear looks at before it
// searches. A source in numeric order (E9, E10, ...) is not in key order:
// the string order puts ten longer ids between two shorter ones ("E100001",
// "E1000010" ... "E1000019", "E100002"), or more. The bench's 10M ids in
// numeric order miss 1.8M guesses looking only at the guess, and 1,002
// looking 16 ahead (the first thousand 6-digit ids, each followed by a
// hundred 8-digit ones too); the 10M steady plan built the 130 MB hash
// table before and does not now.
const nearWindow = 16

// span is a string's place in an arena.
type span struct{ from, to uint32 }

func newKeyTable(size int) *keyTable {
	k := &keyTable{arena: make([]byte, 0, size*10), ends: make([]uint32, 0, size)}
	seed := maphash.MakeSeed()
	k.sum = func(key string) uint64 { return maphash.String(seed, key) }
	k.cells = make([]uint64, cellsFor(size))
	k.hashed.Store(true)
	return k
}

// newSortedKeyTable returns a table for keys added in ascending order.
func newSortedKeyTable(size int) *keyTable {
	k := newKeyTable(0)
	k.arena, k.ends = make([]byte, 0, size*10), make([]uint32, 0, size)
	k.sorted, k.mapAfter = true, mapAfterMisses
	k.hashed.Store(false)
	return k
}

// sortedKeyTableOf is a sorted table over keys already laid out as one
// keeps them (a merged index read back: indexblob.go).
func sortedKeyTableOf(arena []byte, ends []uint32) *keyTable {
	k := newSortedKeyTable(0)
	k.arena, k.ends = arena, ends
	return k
}

// cellsFor is the number of cells that keeps n keys at most three
// quarters full: a power of two, so a hash picks a cell by its low bits.
func cellsFor(n int) int {
	c := 8
	for c*3/4 < n {
		c *= 2
	}
	return c
}

// add numbers a key the table does not hold yet. A sorted table's keys
// must come in ascending order; one out of order makes it a plain table.
func (k *keyTable) add(key []byte) int32 {
	n := int32(len(k.ends))
	if k.sorted && n > 0 && string(key) <= k.key(n-1) {
		k.hashAll()
		k.sorted = false
	}
	k.arena = append(k.arena, key...)
	k.ends = append(k.ends, uint32(len(k.arena)))
	if k.hashed.Load() {
		if len(k.ends) > len(k.cells)*3/4 {
			k.cells = k.cellsOf(len(k.ends))
		} else {
			k.insert(k.cells, n)
		}
	}
	return n
}

// insert puts key n in cells.
func (k *keyTable) insert(cells []uint64, n int32) {
	h := k.sum(k.key(n))
	mask := uint64(len(cells) - 1)
	i := h & mask
	for cells[i] != 0 {
		i = (i + 1) & mask
	}
	cells[i] = h&^0xffffffff | (uint64(n) + 1)
}

// cellsOf is a hash table of the table's first n keys.
func (k *keyTable) cellsOf(n int) []uint64 {
	cells := make([]uint64, cellsFor(n))
	for m := range int32(n) {
		k.insert(cells, m)
	}
	return cells
}

// hashAll builds the hash table of a sorted table, once. Finds running
// meanwhile keep searching; they see the table only when it is complete.
func (k *keyTable) hashAll() {
	k.build.Do(func() {
		if k.hashed.Load() {
			return
		}
		k.cells = k.cellsOf(len(k.ends))
		k.hashed.Store(true)
	})
}

// find returns key's number.
func (k *keyTable) find(key string) (int32, bool) {
	if !k.hashed.Load() {
		return k.search(key)
	}
	h := k.sum(key)
	mask := uint64(len(k.cells) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		c := k.cells[i]
		if c == 0 {
			return 0, false
		}
		if c&^0xffffffff == h&^0xffffffff {
			if n := int32(uint32(c) - 1); k.key(n) == key {
				return n, true
			}
		}
	}
}

// findNear is find for a key that probably is number guess, or a little
// after it: the key after the previous record's, in a source read in key
// order. When the key is not there, n is where the next key's guess
// should start: the key's place in a sorted table, else guess. A key
// missing from state (a hire, or a record every target leaves out of
// scope) then does not leave the next guess behind.
func (k *keyTable) findNear(key string, guess int32) (n int32, ok bool) {
	stop := int32(-1) // where looking ahead met a later key
	if k.sorted && guess >= 0 {
		for n := guess; int(n) < len(k.ends) && n < guess+nearWindow; n++ {
			c := strings.Compare(k.key(n), key)
			if c == 0 {
				return n, true
			}
			if c > 0 {
				stop = n
				break
			}
		}
	}
	if k.sorted && !k.hashed.Load() {
		n, ok = k.search(key)
		// A key whose place is where looking ahead stopped is in order,
		// and only missing from state: not a wrong guess.
		if (ok || n != stop) && k.misses.Add(1) >= k.mapAfter {
			k.hashAll()
		}
		return n, ok
	}
	if n, ok = k.find(key); !ok {
		n = guess // a hash table knows no place for a key it lacks
	}
	return n, ok
}

// search finds a key of a sorted table by binary search. A key it does not
// hold gets the number of the first key after it (its place).
func (k *keyTable) search(key string) (int32, bool) {
	n := sort.Search(len(k.ends), func(i int) bool { return k.key(int32(i)) >= key })
	return int32(n), n < len(k.ends) && k.key(int32(n)) == key
}

// key returns the key numbered n.
func (k *keyTable) key(n int32) string {
	from := uint32(0)
	if n > 0 {
		from = k.ends[n-1]
	}
	return str(k.arena, span{from, k.ends[n]})
}

// bytes is the memory the table holds.
func (k *keyTable) bytes() int64 {
	return int64(cap(k.arena) + 4*cap(k.ends) + 8*cap(k.cells))
}

// len is how many keys the table holds.
func (k *keyTable) len() int { return len(k.ends) }

// keep appends b to an arena and returns its span.
func keep(arena *[]byte, b []byte) span {
	from := uint32(len(*arena))
	*arena = append(*arena, b...)
	return span{from, uint32(len(*arena))}
}

// str is a span of an arena as a string, without a copy. An arena only
// grows, and bytes once written never change (a larger arena is a copy),
// so the string stays valid.
func str(arena []byte, s span) string {
	if s.to == s.from {
		return ""
	}
	return unsafe.String(&arena[s.from], int(s.to-s.from))
}
