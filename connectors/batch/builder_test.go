package batch

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// growthCounter counts reallocations that had to move a buffer.
type growthCounter struct {
	memory.Allocator
	moves int
}

func (g *growthCounter) Reallocate(size int, b []byte) []byte {
	if size > cap(b) {
		g.moves++
	}
	return g.Allocator.Reallocate(size, b)
}

// TestBatchesAfterTheFirstAreAllocatedOnce: a batch reserves every
// column's rows, and as many string bytes as the last batch held, so that
// a batch like the one before fills its buffers without moving them. The
// batches hold what was appended.
func TestBatchesAfterTheFirstAreAllocatedOnce(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	count := &growthCounter{Allocator: mem}
	cols := []Column{{Name: "id", Type: String}, {Name: "name", Type: String}, {Name: "hired", Type: Timestamp}}
	b := NewBuilder(cols, true, Options{Rows: 1000, Allocator: count})
	defer b.Release()
	var batches []arrow.RecordBatch
	for n := range 3000 {
		b.Begin()
		for i, v := range []string{fmt.Sprintf("E%05d", n), fmt.Sprintf("name %d", n%97), "2024-02-29"} {
			if err := b.SetText(i, v); err != nil {
				t.Fatal(err)
			}
		}
		if rec := b.Commit(int64(n+2), false); rec != nil {
			batches = append(batches, rec)
			if len(batches) == 1 {
				count.moves = 0 // the first batch grows from nothing
			}
		}
	}
	if count.moves != 0 {
		t.Errorf("batches after the first moved buffers %d times, want 0", count.moves)
	}
	if len(batches) != 3 {
		t.Fatalf("%d batches, want 3", len(batches))
	}
	for k, rec := range batches {
		ids, names := rec.Column(0).(*array.String), rec.Column(1).(*array.String)
		for i := range int(rec.NumRows()) {
			n := k*1000 + i
			if ids.Value(i) != fmt.Sprintf("E%05d", n) || names.Value(i) != fmt.Sprintf("name %d", n%97) {
				t.Fatalf("batch %d row %d: %q %q", k, i, ids.Value(i), names.Value(i))
			}
		}
		rec.Release()
	}
}

// TestSetTextsBuildsWhatSetTextDoes sets random records, bad fields among
// them, one builder field by field with SetText and the other mostly with
// SetTexts: both must reject the same records at the same field, for the
// same reason, and build the same batches. The second builder sets some
// records field by field too, so a record set after one set by SetTexts
// must not keep any of its values.
func TestSetTextsBuildsWhatSetTextDoes(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	cols := []Column{{Name: "id", Type: String}, {Name: "hired", Type: Timestamp}, {Name: "name", Type: String},
		{Name: "level", Type: Int}, {Name: "score", Type: Float}, {Name: "active", Type: Bool}}
	opts := Options{Rows: 64, MaxFieldBytes: 12, Allocator: mem}
	one, all := NewBuilder(cols, false, opts), NewBuilder(cols, false, opts)
	defer one.Release()
	defer all.Release()
	texts := [][]string{
		{"E1", "", "ann", "école", "x\xffy", strings.Repeat("a", 13)},
		{"2024-02-29", "2024-02-30", " 2024-01-02 ", "2024-01-02T03:04:05Z", ""},
		{"", "Zoë", "a,b", "\xc3", strings.Repeat("é", 7)},
		{"7", "-3", "x", "", "1.5"},
		{"1.25", "nan", "-0", "", "e"},
		{"true", "false", "", "yes", "1"},
	}
	rng := rand.New(rand.NewPCG(3, 9))
	var got, want []arrow.RecordBatch
	rejected := 0
	for n := range 2000 {
		fields := make([]string, len(cols))
		for i := range fields {
			fields[i] = texts[i][rng.IntN(len(texts[i]))]
		}
		one.Begin()
		bad, err := -1, error(nil)
		for i, s := range fields {
			if err = one.SetText(i, s); err != nil {
				bad = i
				break
			}
		}
		all.Begin()
		var bad2 int
		var err2 error
		if n%5 == 0 {
			bad2 = -1
			for i, s := range fields {
				if err2 = all.SetText(i, s); err2 != nil {
					bad2 = i
					break
				}
			}
		} else {
			bad2, err2 = all.SetTexts(fields, utf8.ValidString(strings.Join(fields, "")))
		}
		if bad != bad2 || (err == nil) != (err2 == nil) || err != nil && err.Error() != err2.Error() {
			t.Fatalf("record %d %q: SetText failed at %d (%v), SetTexts at %d (%v)", n, fields, bad, err, bad2, err2)
		}
		if err != nil {
			rejected++
			continue
		}
		if b := one.Commit(int64(n), false); b != nil {
			want = append(want, b)
		}
		if b := all.Commit(int64(n), false); b != nil {
			got = append(got, b)
		}
	}
	want, got = append(want, one.Flush()), append(got, all.Flush())
	if rejected == 0 || rejected > 1900 {
		t.Fatalf("%d of 2000 records rejected: the texts test too little", rejected)
	}
	if len(got) != len(want) {
		t.Fatalf("%d batches, want %d", len(got), len(want))
	}
	for k := range want {
		// "nan" parses to NaN, which is equal to itself only here.
		if !array.RecordApproxEqual(got[k], want[k], array.WithNaNsEqual(true), array.WithAbsTolerance(0)) {
			t.Errorf("batch %d differs:\n got %v\nwant %v", k, got[k], want[k])
		}
		got[k].Release()
		want[k].Release()
	}
}
