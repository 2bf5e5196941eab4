package pipeline

import (
	"encoding/binary"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/cespare/xxhash/v2"
)

// rowHasher fingerprints a record's declared columns. It reuses one buffer,
// so hashing costs no allocation per row.
type rowHasher struct {
	buf  []byte
	cols []arrow.Array
}

// bind points the hasher at a batch's declared columns (the first n).
func (h *rowHasher) bind(b arrow.RecordBatch, n int) {
	h.cols = b.Columns()[:n]
}

// hash returns the fingerprint of row i. A null and an empty value hash
// differently, and a separator after each field keeps "ab","c" apart from
// "a","bc".
func (h *rowHasher) hash(i int) uint64 {
	b := h.buf[:0]
	for _, c := range h.cols {
		if c.IsNull(i) {
			b = append(b, 0)
			continue
		}
		b = append(b, 1)
		switch a := c.(type) {
		case *array.String:
			b = append(b, a.Value(i)...)
			b = append(b, 0xff)
		case *array.Int64:
			b = binary.LittleEndian.AppendUint64(b, uint64(a.Value(i)))
		case *array.Float64:
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(a.Value(i)))
		case *array.Boolean:
			if a.Value(i) {
				b = append(b, 1)
			} else {
				b = append(b, 0)
			}
		case *array.Timestamp:
			b = binary.LittleEndian.AppendUint64(b, uint64(a.Value(i)))
		}
	}
	h.buf = b
	return xxhash.Sum64(b)
}

// combine mixes a record hash with a policy version. The result is never
// zero, which the store reserves for "unknown".
func combine(row, policy uint64) uint64 {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], row)
	binary.LittleEndian.PutUint64(b[8:], policy)
	if h := xxhash.Sum64(b[:]); h != 0 {
		return h
	}
	return 1
}
