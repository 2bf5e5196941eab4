package batch

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// TestNullsAnywhereInABatch builds batches whose string and timestamp
// columns have nulls at random rows, before and after values, by text
// and by typed values, and checks every row: its null bit, its value,
// and a null's zero in the timestamps' raw values (row fingerprints hash
// the raw buffers).
func TestNullsAnywhereInABatch(t *testing.T) {
	checked := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer checked.AssertSize(t, 0)
	mem := dirtyAllocator{checked}
	cols := []Column{{Name: "id", Type: String}, {Name: "name", Type: String}, {Name: "hired", Type: Timestamp}, {Name: "n", Type: Int}}
	b := NewBuilder(cols, true, Options{Rows: 100, Allocator: mem})
	defer b.Release()
	r := rand.New(rand.NewPCG(1, 2))
	type row struct {
		name  *string
		hired *time.Time
	}
	var want []row
	var got []arrow.RecordBatch
	for n := range 350 {
		var w row
		b.Begin()
		must(t, b.SetText(0, fmt.Sprintf("E%d", n)))
		// Some batches have no nulls at all: row 100-199 always has values.
		if n/100 == 1 || r.IntN(3) > 0 {
			name := fmt.Sprintf("name %d", n)
			w.name = &name
			if r.IntN(2) == 0 {
				must(t, b.SetText(1, name))
			} else {
				b.Set(1, name)
			}
		}
		if n/100 == 1 || r.IntN(3) > 0 {
			hired := time.Date(2020, 1, 1+n%28, 0, 0, 0, 0, time.UTC)
			w.hired = &hired
			if r.IntN(2) == 0 {
				must(t, b.SetText(2, hired.Format("2006-01-02")))
			} else {
				b.Set(2, hired)
			}
		} else if r.IntN(2) == 0 {
			must(t, b.SetText(2, " ")) // a blank date is null
		}
		b.Set(3, int64(n))
		want = append(want, w)
		if rec := b.Commit(int64(n), n%7 == 0); rec != nil {
			got = append(got, rec)
		}
	}
	if rec := b.Flush(); rec != nil {
		got = append(got, rec)
	}
	n := 0
	for k, rec := range got {
		names, hired := rec.Column(1).(*array.String), rec.Column(2).(*array.Timestamp)
		ids, pos, tombs := rec.Column(0).(*array.String), rec.Column(4).(*array.Int64), rec.Column(5).(*array.Boolean)
		if k == 1 && (names.NullN() != 0 || hired.NullN() != 0) {
			t.Errorf("batch 1 has no nulls but counts %d and %d", names.NullN(), hired.NullN())
		}
		for i := range int(rec.NumRows()) {
			w := want[n]
			if ids.Value(i) != fmt.Sprintf("E%d", n) || pos.Value(i) != int64(n) || tombs.Value(i) != (n%7 == 0) {
				t.Fatalf("row %d: id %q pos %d deleted %v", n, ids.Value(i), pos.Value(i), tombs.Value(i))
			}
			if names.IsNull(i) != (w.name == nil) || (w.name != nil && names.Value(i) != *w.name) || (w.name == nil && names.Value(i) != "") {
				t.Fatalf("row %d: name null=%v %q, want %v", n, names.IsNull(i), names.Value(i), w.name)
			}
			if hired.IsNull(i) != (w.hired == nil) {
				t.Fatalf("row %d: hired null=%v, want null=%v", n, hired.IsNull(i), w.hired == nil)
			}
			if v := hired.Values()[i]; (w.hired == nil && v != 0) || (w.hired != nil && v != arrow.Timestamp(w.hired.UnixMicro())) {
				t.Fatalf("row %d: hired raw value %d, want %v", n, v, w.hired)
			}
			n++
		}
		rec.Release()
	}
	if n != len(want) {
		t.Fatalf("%d rows in batches, want %d", n, len(want))
	}
}

// dirtyAllocator hands out memory full of ones, as allocators that do
// not zero (C's malloc) may: nothing may count on fresh memory's zeros.
type dirtyAllocator struct{ memory.Allocator }

func (d dirtyAllocator) Allocate(size int) []byte {
	b := d.Allocator.Allocate(size)
	for i := range b {
		b[i] = 0xff
	}
	return b
}

func (d dirtyAllocator) Reallocate(size int, b []byte) []byte {
	old := len(b)
	b = d.Allocator.Reallocate(size, b)
	for i := old; i < len(b); i++ {
		b[i] = 0xff
	}
	return b
}

// TestALargeBatchGrowsByDoubling: values far past the reserve move the
// buffers a few times, not every few appends.
func TestALargeBatchGrowsByDoubling(t *testing.T) {
	count := &growthCounter{Allocator: memory.NewGoAllocator()}
	b := NewBuilder([]Column{{Name: "id", Type: String}}, false, Options{Rows: 5000, Allocator: count})
	defer b.Release()
	for n := range 4000 {
		b.Begin()
		must(t, b.SetText(0, fmt.Sprintf("a fairly long value, number %d", n)))
		if rec := b.Commit(int64(n), false); rec != nil {
			t.Fatal("a batch before its rows")
		}
	}
	if count.moves > 20 {
		t.Errorf("the first batch moved its buffers %d times, want a few", count.moves)
	}
	b.Flush().Release()
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
