package pipeline

import (
	"hash/maphash"
	"sort"
	"sync"
	"sync/atomic"
	"unsafe"
)

// keyTable numbers keys: it finds a key's number with one probe of a map
// from a 64-bit hash of the key, and gives a number's key back. Keys sit
// back to back in one byte arena and nothing in the table holds a
// pointer, so the garbage collector never scans it and adding a key
// allocates nothing of its own. A key whose hash another key already took
// (about one in 10^7 at 10M keys) goes in a small spill map.
//
// A full read's table is filled from state in key order (sorted). It
// then starts with no map at all: sources are usually exported in key
// order, so a record is most often the key after the previous record's
// (findNear checks that first), and the rest are found by binary search.
// Only a source that keeps missing that guess pays for the map, built
// once the misses pass mapAfterMisses.
type keyTable struct {
	// sum hashes keys: maphash with the table's own seed (tests collide
	// keys on purpose by replacing it).
	sum   func(key string) uint64
	slots map[uint64]int32
	spill map[string]int32
	arena []byte
	spans []span

	sorted   bool
	hashed   atomic.Bool // a sorted table's map is built
	build    sync.Once
	misses   atomic.Int64
	mapAfter int64 // mapAfterMisses; tests lower it
}

// mapAfterMisses is how many guesses a sorted table may miss before it
// builds its map: a binary search costs a few map probes, so a source in
// another order soon pays for the map, and one in key order never needs it.
const mapAfterMisses = 1 << 16

// span is a string's place in an arena.
type span struct{ from, to uint32 }

func newKeyTable(size int) *keyTable {
	k := &keyTable{arena: make([]byte, 0, size*10), spans: make([]span, 0, size)}
	seed := maphash.MakeSeed()
	k.sum = func(key string) uint64 { return maphash.String(seed, key) }
	k.slots, k.spill = make(map[uint64]int32, size), map[string]int32{}
	k.hashed.Store(true)
	return k
}

// newSortedKeyTable returns a table for keys added in ascending order.
func newSortedKeyTable(size int) *keyTable {
	k := newKeyTable(0)
	k.arena, k.spans = make([]byte, 0, size*10), make([]span, 0, size)
	k.sorted, k.mapAfter = true, mapAfterMisses
	k.hashed.Store(false)
	return k
}

// add numbers a key the table does not hold yet. A sorted table's keys
// must come in ascending order; one out of order makes it a plain table.
func (k *keyTable) add(key []byte) int32 {
	n := int32(len(k.spans))
	if k.sorted && n > 0 && string(key) <= k.key(n-1) {
		k.hashAll()
		k.sorted = false
	}
	s := keep(&k.arena, key)
	k.spans = append(k.spans, s)
	if k.hashed.Load() {
		k.hash(n)
	}
	return n
}

// hash puts key n in the map.
func (k *keyTable) hash(n int32) {
	key := k.key(n)
	h := k.sum(key)
	if _, taken := k.slots[h]; taken {
		k.spill[key] = n
		return
	}
	k.slots[h] = n
}

// hashAll builds the map of a sorted table, once. Finds running
// meanwhile keep searching; they see the map only when it is complete.
func (k *keyTable) hashAll() {
	k.build.Do(func() {
		if k.hashed.Load() {
			return
		}
		k.slots = make(map[uint64]int32, len(k.spans))
		for n := range int32(len(k.spans)) {
			k.hash(n)
		}
		k.hashed.Store(true)
	})
}

// find returns key's number.
func (k *keyTable) find(key string) (int32, bool) {
	if !k.hashed.Load() {
		return k.search(key)
	}
	if n, ok := k.slots[k.sum(key)]; ok && k.key(n) == key {
		return n, true
	}
	n, ok := k.spill[key]
	return n, ok
}

// findNear is find for a key that probably is number guess: the key
// after the previous record's, in a source read in key order.
func (k *keyTable) findNear(key string, guess int32) (int32, bool) {
	if k.sorted && guess >= 0 && int(guess) < len(k.spans) && k.key(guess) == key {
		return guess, true
	}
	if k.sorted && !k.hashed.Load() && k.misses.Add(1) >= k.mapAfter {
		k.hashAll()
	}
	return k.find(key)
}

// search finds a key of a sorted table by binary search.
func (k *keyTable) search(key string) (int32, bool) {
	n := sort.Search(len(k.spans), func(i int) bool { return k.key(int32(i)) >= key })
	if n < len(k.spans) && k.key(int32(n)) == key {
		return int32(n), true
	}
	return 0, false
}

// key returns the key numbered n.
func (k *keyTable) key(n int32) string { return str(k.arena, k.spans[n]) }

// len is how many keys the table holds.
func (k *keyTable) len() int { return len(k.spans) }

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
