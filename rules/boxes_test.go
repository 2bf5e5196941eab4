package rules

import (
	"fmt"
	"hash/maphash"
	"testing"
	"unsafe"
)

// TestBoxesShareRepeatedStrings boxes a column of a dozen repeated values:
// every box holds its string, repeats allocate nothing, and a kept string
// is the table's own copy, not the batch buffer it was read from.
func TestBoxesShareRepeatedStrings(t *testing.T) {
	var b boxes
	seed := maphash.MakeSeed()
	buf := []byte("Engineering")
	aliased := unsafe.String(&buf[0], len(buf)) // as a column read aliases its batch
	first := b.box(seed, aliased)
	copy(buf, "XXXXXXXXXXX")
	if first != "Engineering" {
		t.Fatalf("after the buffer changed, the box holds %v: the table kept the buffer", first)
	}
	if got := b.box(seed, "Engineering"); got != "Engineering" {
		t.Fatalf("box = %v", got)
	}
	depts := ownSlots(seed, 12)
	for i := range 1000 {
		if s := depts[i%len(depts)]; b.box(seed, s) != any(s) {
			t.Fatalf("box(%q) holds another string", s)
		}
	}
	if b.off {
		t.Fatal("a column of 12 values turned its table off")
	}
	n := 0
	if allocs := testing.AllocsPerRun(100, func() { _ = b.box(seed, depts[n%len(depts)]); n++ }); allocs != 0 {
		t.Errorf("boxing a repeated value allocated %v times", allocs)
	}
}

// ownSlots is n strings that each take a slot of their own under seed.
// Strings that share a slot take turns in it, as a direct-mapped table
// means them to, and each turn allocates: with twelve strings in 64
// slots some share one more often than not, so a test of sharing that
// took any twelve failed now and then.
func ownSlots(seed maphash.Seed, n int) []string {
	var out []string
	taken := map[uint64]bool{}
	for i := 0; len(out) < n; i++ {
		s := fmt.Sprint("dept", i)
		if slot := maphash.String(seed, s) & (boxSlots - 1); !taken[slot] {
			taken[slot] = true
			out = append(out, s)
		}
	}
	return out
}

// TestBoxesStopLookingWhenStringsDiffer boxes a column of distinct ids:
// the table turns itself off after its tries, and boxes stay right.
func TestBoxesStopLookingWhenStringsDiffer(t *testing.T) {
	var b boxes
	seed := maphash.MakeSeed()
	for i := range 2 * boxTries {
		if s := fmt.Sprint("E", i); b.box(seed, s) != any(s) {
			t.Fatalf("box(%q) holds another string", s)
		}
	}
	if !b.off {
		t.Errorf("a column of distinct values kept its table on: %d hits in %d tries", b.hits, b.tries)
	}
}
