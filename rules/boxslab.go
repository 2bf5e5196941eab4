package rules

import (
	"testing"
	"unsafe"
)

// boxSlabs box the values rules yield (as `any`) without an allocation
// each, while the text arena is on: the header a boxed string or list
// points to is a slot of a slab that the next batch reuses, as the arena
// reuses its text, and so are a list's strings. A first plan boxed about
// 7M built strings and 1M group lists for 1M identities, 150 MB of small
// allocations that the plan never kept: each was fresh memory, as the
// collector is off during a first sync (pipeline's collectorOff), and this
// host backs fresh memory at about 15 µs a 4 KB page.
//
// Go boxes a string by copying its header to the heap and pointing the
// interface's data word there; box does the same with a slot it owns.
// That is why reuse has the arena's rule: only a caller that kept none of
// the values may ask for it, since a reused slot changes every interface
// still pointing to it.
type boxSlabs struct {
	strs  slabs[string]   // boxed strings' headers, and lists' strings
	lists slabs[[]string] // boxed lists' headers
}

// slabs hands out runs of slots from slabs of slabBytes each.
type slabs[T any] struct {
	all  [][]T // every slab, the one being filled last
	next int   // the slab being filled
}

const slabBytes = 64 << 10

// take returns n slots, capped so that appending cannot reach the next
// run. They hold what an earlier batch left there: the caller sets each.
func (s *slabs[T]) take(n int) []T {
	for s.next < len(s.all) && cap(s.all[s.next])-len(s.all[s.next]) < n {
		s.next++
	}
	if s.next == len(s.all) {
		var zero T
		s.all = append(s.all, make([]T, 0, max(slabBytes/int(unsafe.Sizeof(zero)), n)))
	}
	slab := s.all[s.next]
	at := len(slab)
	slab = slab[:at+n]
	s.all[s.next] = slab
	return slab[at : at+n : at+n]
}

// reset starts the slabs over: with reuse, their slots are written over
// from the first (tests first fill them with marker, so that a value
// still pointing in reads it); without, they are left to the collector.
func (s *slabs[T]) reset(reuse bool, marker T) {
	if !reuse {
		s.all, s.next = nil, 0
		return
	}
	for i, slab := range s.all {
		if testing.Testing() {
			slab = slab[:cap(slab)]
			for j := range slab {
				slab[j] = marker
			}
		}
		s.all[i] = slab[:0]
	}
	s.next = 0
}

// reusedBox is what a reused slot reads under test.
const reusedBox = "(a boxed value read after its slab was reused)"

func (b *boxSlabs) reset(reuse bool) {
	b.strs.reset(reuse, reusedBox)
	b.lists.reset(reuse, []string{reusedBox})
}

// eface is the layout of an empty interface: its type, then a pointer to
// its value (for a string, to the string's header). reflect and the
// runtime rely on it too.
type eface struct {
	typ, data unsafe.Pointer
}

// The type words of the kinds boxed here.
var (
	stringType = typeWord("")
	listType   = typeWord([]string(nil))
)

func typeWord(v any) unsafe.Pointer { return (*eface)(unsafe.Pointer(&v)).typ }

// box returns s as an `any` whose header is a slot.
func (b *boxSlabs) box(s string) any {
	slot := b.strs.take(1)
	slot[0] = s
	return makeBox(stringType, unsafe.Pointer(&slot[0]))
}

// boxList returns list as an `any` whose header is a slot.
func (b *boxSlabs) boxList(list []string) any {
	slot := b.lists.take(1)
	slot[0] = list
	return makeBox(listType, unsafe.Pointer(&slot[0]))
}

func makeBox(typ, data unsafe.Pointer) any {
	e := eface{typ, data}
	return *(*any)(unsafe.Pointer(&e))
}
