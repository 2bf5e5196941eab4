package pipeline

import (
	"encoding/binary"
	"slices"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/cespare/xxhash/v2"
)

// rowHasher fingerprints a record's declared columns. It reuses one buffer,
// so hashing costs no allocation per row, and each worker has its own.
type rowHasher struct {
	buf  []byte
	cols []hashColumn
	// fps and targets hold the last batch's fingerprints (see
	// fingerprints), reused by the next.
	fps     []uint64
	targets [][]uint64
}

// hashColumn is one column as hash reads it: its buffers, taken out of
// the Arrow array once per batch. Asking the array for each value (an
// interface call for the null bit, a type switch, another call for the
// value) was most of hashing a row.
type hashColumn struct {
	kind    hashKind
	valid   []byte // the validity bitmap, nil when no row is null
	offset  int    // the array's offset into valid
	offsets []int32
	bytes   []byte   // with offsets, a string column's values
	words   []uint64 // an int64, float64 or timestamp column's values' bits
	bools   *array.Boolean
}

type hashKind uint8

const (
	hashNothing hashKind = iota // a type no source makes: only its null bit counts
	hashString
	hashWord
	hashBool
)

// wordsOf views 64-bit values as their bits, without a copy.
func wordsOf[T int64 | float64 | arrow.Timestamp](v []T) []uint64 {
	return unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(v))), len(v))
}

// bind points the hasher at a batch's declared columns (the first n).
func (h *rowHasher) bind(b arrow.RecordBatch, n int) {
	h.cols = h.cols[:0]
	for _, c := range b.Columns()[:n] {
		hc := hashColumn{offset: c.Data().Offset()}
		if c.NullN() > 0 {
			hc.valid = c.NullBitmapBytes()
		}
		switch a := c.(type) {
		case *array.String:
			// The whole data buffer: the offsets index it, while
			// ValueBytes starts at the array's first value.
			hc.kind, hc.offsets = hashString, a.ValueOffsets()
			if buf := a.Data().Buffers()[2]; buf != nil {
				hc.bytes = buf.Bytes()
			}
		case *array.Int64:
			hc.kind, hc.words = hashWord, wordsOf(a.Int64Values())
		case *array.Float64:
			hc.kind, hc.words = hashWord, wordsOf(a.Float64Values())
		case *array.Timestamp:
			hc.kind, hc.words = hashWord, wordsOf(a.TimestampValues())
		case *array.Boolean:
			hc.kind, hc.bools = hashBool, a
		}
		h.cols = append(h.cols, hc)
	}
}

// hash returns the fingerprint of row i. A null and an empty value hash
// differently, and a separator after each field keeps "ab","c" apart from
// "a","bc". The stored fingerprints are these bytes' hashes: changing
// them re-evaluates every record once (TestRowHashIsStable).
func (h *rowHasher) hash(i int) uint64 {
	b := h.buf[:0]
	for k := range h.cols {
		c := &h.cols[k]
		if c.valid != nil && !bitutil.BitIsSet(c.valid, c.offset+i) {
			b = append(b, 0)
			continue
		}
		b = append(b, 1)
		switch c.kind {
		case hashString:
			b = append(b, c.bytes[c.offsets[i]:c.offsets[i+1]]...)
			b = append(b, 0xff)
		case hashWord:
			b = binary.LittleEndian.AppendUint64(b, c.words[i])
		case hashBool:
			if c.bools.Value(i) {
				b = append(b, 1)
			} else {
				b = append(b, 0)
			}
		}
	}
	h.buf = b
	return xxhash.Sum64(b)
}

// fingerprints gives each row of a batch its fingerprint in each target
// (fps[j][i], in active[j]): the row's hash combined with the target's
// policy. It is 0, which combine never returns, where the row needs no
// evaluation there: a tombstone, or a record whose slot already holds
// that fingerprint. Working it out once here spares readDetails and
// evalRow doing it again each, for every row and target. The slices are
// valid until the hasher's next batch.
func (h *rowHasher) fingerprints(active []*targetRun, d *batchDone, hashes []uint64) (fps [][]uint64) {
	n := len(d.keys)
	h.fps = slices.Grow(h.fps[:0], len(active)*n)[:len(active)*n]
	h.targets = h.targets[:0]
	for j, tr := range active {
		out := h.fps[j*n : (j+1)*n : (j+1)*n]
		for i := range out {
			out[i] = 0
			if d.tombs[i] {
				continue
			}
			fp := combine(hashes[i], tr.version)
			if !tr.t.usesNow && tr.index.matches(d.pos[i], fp) {
				continue // same record, same policy: same result
			}
			out[i] = fp
		}
		h.targets = append(h.targets, out)
	}
	return h.targets
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
