package batch

import (
	"fmt"
	"testing"

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
