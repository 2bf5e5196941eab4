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
	depts := make([]string, 12)
	for i := range depts {
		depts[i] = fmt.Sprint("dept", i)
	}
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
