package pipeline

import (
	"hash/maphash"
	"unsafe"
)

// keyTable numbers keys: it finds a key's number with one probe of a map
// from a 64-bit hash of the key, and gives a number's key back. Keys sit
// back to back in one byte arena and nothing in the table holds a
// pointer, so the garbage collector never scans it and adding a key
// allocates nothing of its own. A key whose hash another key already took
// (about one in 10^7 at 10M keys) goes in a small spill map.
type keyTable struct {
	// sum hashes keys: maphash with the table's own seed (tests collide
	// keys on purpose by replacing it).
	sum   func(key string) uint64
	slots map[uint64]int32
	spill map[string]int32
	arena []byte
	spans []span
}

// span is a string's place in an arena.
type span struct{ from, to uint32 }

func newKeyTable(size int) *keyTable {
	seed := maphash.MakeSeed()
	return &keyTable{sum: func(key string) uint64 { return maphash.String(seed, key) },
		slots: make(map[uint64]int32, size), spill: map[string]int32{},
		arena: make([]byte, 0, size*10), spans: make([]span, 0, size)}
}

// add numbers a key the table does not hold yet.
func (k *keyTable) add(key []byte) int32 {
	n := int32(len(k.spans))
	s := keep(&k.arena, key)
	k.spans = append(k.spans, s)
	h := k.sum(str(k.arena, s))
	if _, taken := k.slots[h]; taken {
		k.spill[string(key)] = n
		return n
	}
	k.slots[h] = n
	return n
}

// find returns key's number.
func (k *keyTable) find(key string) (int32, bool) {
	if n, ok := k.slots[k.sum(key)]; ok && str(k.arena, k.spans[n]) == key {
		return n, true
	}
	n, ok := k.spill[key]
	return n, ok
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
