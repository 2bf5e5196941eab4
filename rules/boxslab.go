package rules

import (
	"testing"
	"unsafe"
)

// boxSlabs boxes the strings rules yield (as `any`) without an allocation
// each, while the text arena is on: the string header a boxed string
// points to is a slot of a slab that the next batch reuses, as the arena
// reuses its text. A first plan boxed about 7M built strings for 1M
// identities, 112 MB of 16-byte allocations that the plan never kept:
// each was fresh memory, as the collector is off during a first sync
// (pipeline's collectorOff), and this host backs fresh memory at about 15
// µs a 4 KB page.
//
// Go boxes a string by copying its header to the heap and pointing the
// interface's data word there; box does the same with a slot it owns.
// That is why reuse has the arena's rule: only a caller that kept none of
// the values may ask for it, since a reused slot changes every interface
// still pointing to it.
type boxSlabs struct {
	slabs [][]string // every slab, the one being filled last
	next  int        // the slab being filled
}

const boxSlab = 4096 // strings a slab holds: 64 KB of headers

// eface is the layout of an empty interface: its type, then a pointer to
// its value (for a string, to the string's header). reflect and the
// runtime rely on it too.
type eface struct {
	typ, data unsafe.Pointer
}

// box returns s as an `any` whose header is a slab's slot.
func (b *boxSlabs) box(s string) any {
	for b.next < len(b.slabs) && len(b.slabs[b.next]) == cap(b.slabs[b.next]) {
		b.next++
	}
	if b.next == len(b.slabs) {
		b.slabs = append(b.slabs, make([]string, 0, boxSlab))
	}
	slab := append(b.slabs[b.next], s)
	b.slabs[b.next] = slab
	var v any = "" // a string's type word, with a static value
	(*eface)(unsafe.Pointer(&v)).data = unsafe.Pointer(&slab[len(slab)-1])
	return v
}

// reset starts the slabs over: with reuse, their slots are written over
// from the first (tests first fill them with a marker, so that a value
// still pointing in reads it); without, they are left to the collector.
func (b *boxSlabs) reset(reuse bool) {
	if !reuse {
		b.slabs, b.next = nil, 0
		return
	}
	for i, slab := range b.slabs {
		if testing.Testing() {
			slab = slab[:cap(slab)]
			for j := range slab {
				slab[j] = reusedBox
			}
		}
		b.slabs[i] = slab[:0]
	}
	b.next = 0
}

// reusedBox is what a reused slot reads under test.
const reusedBox = "(a boxed value read after its slab was reused)"
