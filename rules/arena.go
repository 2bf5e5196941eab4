package rules

import "unsafe"

// textArena holds the strings rules build (see build), when its owner asks
// for it: a first plan built 74 MB of them for 1M identities, each a
// string of its own, and packing a create's values copies them at once.
// In the arena they are cut from 64 KB slabs that the next batch reuses,
// once its owner knows that nothing kept points into them (ResetText).
// The values' boxes are kept alike (boxSlabs).
type textArena struct {
	on    bool
	text  slabs[byte]
	boxes boxSlabs
}

// keep returns b as a string: in the arena when it is on, else a copy of
// its own.
func (a *textArena) keep(b []byte) string {
	if !a.on || len(b) == 0 || len(b) > slabBytes/4 {
		return string(b)
	}
	run := a.text.take(len(b))
	copy(run, b)
	return unsafe.String(&run[0], len(run))
}

// reusedText is what a reused byte of the arena reads under test.
const reusedText = 0xa5

// box returns s as an `any`: boxed in the slabs when the arena is on.
func (a *textArena) box(s string) any {
	if !a.on {
		return s
	}
	return a.boxes.box(s)
}

// list returns n strings for a list, for the caller to set: in the slabs
// when the arena is on.
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

// UseTextArena makes the strings rules build, and the boxes of the values
// they yield, come from slabs that ResetText hands over for reuse. The caller must then call ResetText
// after each batch, saying whether anything it keeps still points into
// them.
func (ev *Evaluator) UseTextArena() { ev.arena.on = true }

// ResetText starts the arena over. With reuse, its slabs are written over
// from the start, which only a caller that kept none of the strings and
// values they hold may ask for (tests overwrite them at once, so that one
// still pointing in reads garbage); without, they are left to the
// collector, and new slabs are made.
func (ev *Evaluator) ResetText(reuse bool) {
	ev.arena.text.reset(reuse, reusedText)
	ev.arena.boxes.reset(reuse)
}
