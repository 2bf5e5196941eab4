package rules

import (
	"hash/maphash"
	"strings"
)

// boxes shares the boxed form (as `any`) of the strings one column yields
// over and over, a department or a country say, so that copying such a
// field into an attribute does not allocate a box for every row. A first
// plan's column copies boxed 7M strings; most of them repeat a few dozen
// values, and the boxes stay in the plan.
//
// It is a direct-mapped table: a string takes the slot its hash picks,
// replacing what was there. A column whose strings mostly differ (an id, a
// name) would only pay for the hashing, so a table that misses more often
// than it hits over its first tries stops looking.
type boxes struct {
	slots       [boxSlots]boxed
	tries, hits int32
	off         bool
}

type boxed struct {
	s string
	v any
}

const (
	boxSlots = 64
	// boxTries is how many strings a table judges itself by.
	boxTries = 256
)

// box returns s as an `any`, shared with earlier equal strings when the
// table holds one. A string it keeps is a copy of s, which may point into
// a batch's buffer: the table outlives the batch.
func (b *boxes) box(seed maphash.Seed, s string) any {
	if b.off {
		return s
	}
	slot := &b.slots[maphash.String(seed, s)&(boxSlots-1)]
	if slot.v != nil && slot.s == s {
		b.hits++
		return slot.v
	}
	if b.tries++; b.tries >= boxTries && 2*b.hits < b.tries {
		b.off = true
		return s
	}
	kept := strings.Clone(s)
	*slot = boxed{kept, kept}
	return slot.v
}
