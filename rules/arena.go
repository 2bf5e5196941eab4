package rules

import (
	"testing"
	"unsafe"
)

// textArena holds the strings rules build (see build), when its owner asks
// for it: a first plan built 74 MB of them for 1M identities, each a
// string of its own, and packing a create's values copies them at once.
// In the arena they are cut from 64 KB blocks that the next batch reuses,
// once its owner knows that nothing kept points into them (Reset).
type textArena struct {
	on     bool
	blocks [][]byte // every block, the one being cut from last
	next   int      // the block being cut from
	boxes  boxSlabs
}

const textBlock = 64 << 10

// keep returns b as a string: in the arena when it is on, else a copy of
// its own.
func (a *textArena) keep(b []byte) string {
	if !a.on || len(b) == 0 || len(b) > textBlock/4 {
		return string(b)
	}
	for a.next < len(a.blocks) && cap(a.blocks[a.next])-len(a.blocks[a.next]) < len(b) {
		a.next++
	}
	if a.next == len(a.blocks) {
		a.blocks = append(a.blocks, make([]byte, 0, textBlock))
	}
	blk := a.blocks[a.next]
	at := len(blk)
	blk = append(blk, b...)
	a.blocks[a.next] = blk
	return unsafe.String(&blk[at], len(b))
}

// box returns s as an `any`: boxed in the slabs when the arena is on.
func (a *textArena) box(s string) any {
	if !a.on {
		return s
	}
	return a.boxes.box(s)
}

// list returns n empty strings for a list: in the slabs when the arena
// is on.
func (a *textArena) list(n int) []string {
	if !a.on {
		return make([]string, n)
	}
	return a.boxes.strs.take(n)
}

// boxList returns list as an `any`: boxed in the slabs when the arena is
// on.
func (a *textArena) boxList(list []string) any {
	if !a.on {
		return list
	}
	return a.boxes.boxList(list)
}

// UseTextArena makes the strings rules build come from blocks that
// ResetText hands over for reuse. The caller must then call ResetText
// after each batch, saying whether anything it keeps still points into
// them.
func (ev *Evaluator) UseTextArena() { ev.arena.on = true }

// ResetText starts the arena over. With reuse, its blocks are written
// over from the start, which only a caller that kept none of the strings
// they hold may ask for (tests overwrite them at once, so that a string
// still pointing in reads garbage); without, they are left to the
// collector, and new blocks are made.
func (ev *Evaluator) ResetText(reuse bool) {
	a := &ev.arena
	a.boxes.reset(reuse)
	if !reuse {
		a.blocks, a.next = nil, 0
		return
	}
	for i, blk := range a.blocks {
		if testing.Testing() {
			blk = blk[:cap(blk)]
			for j := range blk {
				blk[j] = 0xa5
			}
		}
		a.blocks[i] = blk[:0]
	}
	a.next = 0
}
