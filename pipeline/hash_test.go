package pipeline

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/cespare/xxhash/v2"
)

// referenceHash is how fingerprints were made before rowHasher read the
// Arrow buffers itself, value by value through the arrays: stored
// fingerprints are these, so rowHasher must keep making them.
// buf is reused, as rowHasher reuses its own.
func referenceHash(buf *[]byte, cols []arrow.Array, i int) uint64 {
	b := (*buf)[:0]
	for _, c := range cols {
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
	*buf = b
	return xxhash.Sum64(b)
}

// randomBatch has a column of each type a source makes, each with some
// nulls (or none, or all), and a position column the hasher must skip.
func randomBatch(rng *rand.Rand, rows int) arrow.RecordBatch {
	ts := &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "i", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "b", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "t", Type: ts, Nullable: true},
		{Name: "e", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "pos", Type: arrow.PrimitiveTypes.Int64},
	}, nil)
	rb := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer rb.Release()
	nulls := []float64{0, 0.3, 1}[rng.IntN(3)]
	words := []string{"", "a", "ab", "b", "Zoë", "a,b", "\xff"}
	for range rows {
		for k := range 6 {
			f := rb.Field(k)
			if rng.Float64() < nulls {
				f.AppendNull()
				continue
			}
			switch f := f.(type) {
			case *array.StringBuilder:
				f.Append(words[rng.IntN(len(words))])
			case *array.Int64Builder:
				f.Append(rng.Int64N(5) - 2)
			case *array.Float64Builder:
				f.Append([]float64{0, -0.5, 1e300, math.Inf(1)}[rng.IntN(4)])
			case *array.BooleanBuilder:
				f.Append(rng.IntN(2) == 0)
			case *array.TimestampBuilder:
				f.Append(arrow.Timestamp(rng.Int64N(3) * 86_400_000_000))
			}
		}
		rb.Field(6).(*array.Int64Builder).Append(rng.Int64())
	}
	return rb.NewRecordBatch()
}

func TestRowHashIsStable(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 13))
	var h rowHasher
	var buf []byte
	for round := range 200 {
		b := randomBatch(rng, 1+rng.IntN(40))
		// A slice starts its arrays at an offset into their buffers.
		if from := rng.IntN(int(b.NumRows())); round%2 == 1 {
			s := b.NewSlice(int64(from), b.NumRows())
			b.Release()
			b = s
		}
		h.bind(b, 6)
		for i := range int(b.NumRows()) {
			if got, want := h.hash(i), referenceHash(&buf, b.Columns()[:6], i); got != want {
				t.Fatalf("round %d row %d: hash %x, want %x", round, i, got, want)
			}
		}
		b.Release()
	}
}

// TestRowHashTellsRowsApart checks what the fingerprint is for: a record
// that changed, in any column or just from null to empty, hashes apart.
func TestRowHashTellsRowsApart(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "a", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "b", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	rb := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer rb.Release()
	rows := [][2]*string{{ptr("ab"), ptr("c")}, {ptr("a"), ptr("bc")}, {nil, ptr("")}, {ptr(""), ptr("")}, {ptr(""), nil}, {nil, nil}}
	for _, r := range rows {
		for k, v := range r {
			if v == nil {
				rb.Field(k).AppendNull()
			} else {
				rb.Field(k).(*array.StringBuilder).Append(*v)
			}
		}
	}
	b := rb.NewRecordBatch()
	defer b.Release()
	var h rowHasher
	h.bind(b, 2)
	seen := map[uint64]int{}
	for i := range rows {
		if j, dup := seen[h.hash(i)]; dup {
			t.Errorf("rows %d and %d hash the same", j, i)
		}
		seen[h.hash(i)] = i
	}
}

func ptr(s string) *string { return &s }

// BenchmarkRowHash fingerprints rows of the kind sources make (strings,
// some null, and a timestamp), against referenceHash as the baseline.
func BenchmarkRowHash(b *testing.B) {
	batch := randomBatch(rand.New(rand.NewPCG(1, 2)), 4096)
	defer batch.Release()
	b.Run("rowHasher", func(b *testing.B) {
		var h rowHasher
		for b.Loop() {
			h.bind(batch, 6)
			for i := range 4096 {
				h.hash(i)
			}
		}
	})
	b.Run("reference", func(b *testing.B) {
		var buf []byte
		for b.Loop() {
			for i := range 4096 {
				referenceHash(&buf, batch.Columns()[:6], i)
			}
		}
	})
}
