package batch

import (
	"math/bits"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Recycler is an allocator whose buffers can be handed back, batch by
// batch, for later batches to be built in.
//
// A steady plan reads a 1M-record file into 230 MB of batches and keeps
// almost nothing of them: each was new memory for the collector to hand
// out, clear and collect again, and the garbage set how often it ran.
// Built in recycled buffers, a read touches a few megabytes over and over.
//
// Arrow cannot tell when a batch's memory is free: a Go string read from a
// string column points into its buffer, and outlives the batch's last
// Release. So Free does nothing, as Go's allocator does, and only the
// reader, who knows that nothing it kept points into a batch, hands one
// back (Recycle).
type Recycler struct {
	mu   sync.Mutex
	free [maxClass + 1][][]byte // free[k] holds buffers of capacity 2^k or more
	held int                    // bytes in free
}

const (
	minClass = 6  // 64 bytes, Arrow's alignment
	maxClass = 26 // 64 MB: larger buffers are left to the collector
	// recycleLimit bounds the bytes held for reuse. A few batches are in
	// flight at once (the engine reads 16 MB ahead); more would only be
	// memory nobody uses.
	recycleLimit = 16 << 20
)

// classOf is the smallest class whose buffers hold size bytes.
func classOf(size int) int {
	if size <= 1<<minClass {
		return minClass
	}
	return bits.Len(uint(size - 1))
}

// Allocate returns size zeroed bytes, in a recycled buffer when one is
// free.
func (r *Recycler) Allocate(size int) []byte {
	k := classOf(size)
	if k > maxClass {
		return memory.DefaultAllocator.Allocate(size)
	}
	r.mu.Lock()
	var b []byte
	if n := len(r.free[k]); n > 0 {
		b = r.free[k][n-1]
		r.free[k] = r.free[k][:n-1]
		r.held -= cap(b)
	}
	r.mu.Unlock()
	if b == nil {
		return memory.DefaultAllocator.Allocate(1 << k)[:size]
	}
	b = b[:size]
	clear(b) // Arrow's builders expect zeroed memory, as Go's allocator gives
	return b
}

// Reallocate grows b to size bytes, keeping its contents; the buffer it
// leaves is recycled at once, as nothing else has seen it yet.
func (r *Recycler) Reallocate(size int, b []byte) []byte {
	if cap(b) >= size {
		return b[:size]
	}
	nb := r.Allocate(size)
	copy(nb, b)
	r.put(b)
	return nb
}

// Free does nothing: see Recycler.
func (r *Recycler) Free([]byte) {}

// Recycle takes back the buffers of rec, which must have been built with
// r as its allocator, and which nothing may point into any longer:
// strings read from its columns included. The caller still releases rec.
func (r *Recycler) Recycle(rec arrow.RecordBatch) {
	for _, c := range rec.Columns() {
		for _, buf := range c.Data().Buffers() {
			if buf != nil {
				r.put(buf.Buf())
			}
		}
	}
}

func (r *Recycler) put(b []byte) {
	b = b[:cap(b)]
	if len(b) < 1<<minClass {
		return
	}
	k := bits.Len(uint(len(b))) - 1 // 2^k <= cap < 2^(k+1)
	if k > maxClass {
		return
	}
	if testing.Testing() {
		// Whatever still points in reads garbage, and tests that compare
		// plans fail, rather than passing until the buffer is reused.
		for i := range b {
			b[i] = 0xa5
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.held+len(b) > recycleLimit {
		return // the collector frees it
	}
	r.free[k] = append(r.free[k], b)
	r.held += len(b)
}

var _ memory.Allocator = (*Recycler)(nil)
