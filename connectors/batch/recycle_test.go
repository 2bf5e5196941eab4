package batch

import (
	"bytes"
	"fmt"
	"testing"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// TestRecycledBatchesHoldTheirOwnValues builds batches of every column
// kind in recycled buffers, recycling each once read: each must hold what
// was appended to it, and after the first few every
// buffer must come from the recycler.
func TestRecycledBatchesHoldTheirOwnValues(t *testing.T) {
	var r Recycler
	cols := []Column{{Name: "id", Type: String}, {Name: "n", Type: Int}, {Name: "ok", Type: Bool}, {Name: "at", Type: Timestamp}}
	b := NewBuilder(cols, true, Options{Rows: 100, Allocator: &r})
	defer b.Release()
	seen := map[*byte]bool{} // the buffers' first bytes
	used := 0
	for batch := range 20 {
		for n := range 100 {
			b.Begin()
			id := fmt.Sprintf("E%d-%d", batch, n)
			if n%7 == 3 {
				id = ""
			}
			for i, v := range []string{id, fmt.Sprint(batch*1000 + n), fmt.Sprint(n%2 == 0), "2024-02-29"} {
				if err := b.SetText(i, v); err != nil {
					t.Fatal(err)
				}
			}
			rec := b.Commit(int64(n), n%5 == 0)
			if rec == nil {
				continue
			}
			ids, nums := rec.Column(0).(*array.String), rec.Column(1).(*array.Int64)
			for i := range int(rec.NumRows()) {
				want := fmt.Sprintf("E%d-%d", batch, i)
				if i%7 == 3 {
					want = ""
				}
				if got := ids.Value(i); got != want {
					t.Fatalf("batch %d row %d: id %q, want %q", batch, i, got, want)
				}
				if got := nums.Value(i); got != int64(batch*1000+i) {
					t.Fatalf("batch %d row %d: n = %d", batch, i, got)
				}
			}
			used += noteBuffers(rec, seen)
			r.Recycle(rec)
			rec.Release()
		}
	}
	if len(seen) > used/4 {
		t.Errorf("%d batches' %d buffers were in %d places: recycling did not take", 20, used, len(seen))
	}
}

// noteBuffers adds where rec's buffers start to seen, and counts them.
func noteBuffers(rec arrow.RecordBatch, seen map[*byte]bool) int {
	n := 0
	for _, c := range rec.Columns() {
		for _, buf := range c.Data().Buffers() {
			if buf != nil {
				seen[unsafe.SliceData(buf.Buf())] = true
				n++
			}
		}
	}
	return n
}

// TestRecyclerZeroesWhatItHandsOut: a recycled buffer is overwritten when
// recycled (in tests), and zeroed when handed out again; one a reallocation
// leaves is recycled at once, after its contents moved.
func TestRecyclerZeroesWhatItHandsOut(t *testing.T) {
	var r Recycler
	a := r.Allocate(100)
	copy(a, bytes.Repeat([]byte{7}, 100))
	grown := r.Reallocate(1000, a)
	if !bytes.Equal(grown[:100], bytes.Repeat([]byte{7}, 100)) || len(grown) != 1000 {
		t.Fatalf("reallocation lost its contents or size: %d bytes", len(grown))
	}
	if a[0] != 0xa5 {
		t.Errorf("the buffer a reallocation left was not recycled (first byte %#x)", a[0])
	}
	again := r.Allocate(90)
	if unsafe.SliceData(again) != unsafe.SliceData(a) {
		t.Error("an allocation of the same class did not reuse the recycled buffer")
	}
	if len(again) != 90 || !bytes.Equal(again, make([]byte, 90)) {
		t.Errorf("reused buffer: %d bytes, %v, want 90 zeroes", len(again), again[:8])
	}
}
