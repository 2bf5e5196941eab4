package batch

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/idsync/idsync/connectors"
)

// Options configure a Builder. Zero values take the stated defaults.
type Options struct {
	// Rows is the number of records per batch. Defaults to 4096: large
	// enough to amortise per-batch work, small enough to bound memory.
	Rows int
	// MaxFieldBytes rejects records with a longer field. Defaults to 4 KiB,
	// ample for HR data; raise it per source for long fields.
	// The bound also makes rule cost estimates sound: rules see no string
	// longer than this.
	MaxFieldBytes int
	// Allocator defaults to memory.DefaultAllocator.
	Allocator memory.Allocator
}

// DefaultMaxFieldBytes is the default for Options.MaxFieldBytes.
const DefaultMaxFieldBytes = 4 << 10

const defaultRows = 4096

// Builder accumulates validated records into Arrow batches.
type Builder struct {
	cols     []Column
	schema   *arrow.Schema
	rb       *array.RecordBuilder
	opts     Options
	pending  []cell
	rows     int
	hasTombs bool
	// dataBytes[i] is how many bytes string column i held in the last
	// batch: the next one reserves as much, so that its buffers are
	// allocated once rather than doubled from empty, each doubling
	// leaving its old buffer behind as garbage.
	dataBytes []int
}

// cell is one pending field. Text cells are kept unboxed: putting every
// string and date of a read into an any was a tenth of a full plan's CPU,
// one allocation per field.
type cell struct {
	kind cellKind
	s    string // text
	n    int64  // micros: a timestamp in Unix microseconds
	v    any    // boxed: a typed value from Set
}

type cellKind uint8

const (
	null cellKind = iota // also a field never set
	text
	micros
	boxed
)

// Schema returns the Arrow schema for the declared columns, followed by the
// position column and, when tombstones is true, the deleted column.
func Schema(cols []Column, tombstones bool) *arrow.Schema {
	fields := make([]arrow.Field, 0, len(cols)+2)
	for _, c := range cols {
		fields = append(fields, arrow.Field{Name: c.Name, Type: c.Type.Arrow(), Nullable: true})
	}
	fields = append(fields, arrow.Field{Name: connectors.PosColumn, Type: arrow.PrimitiveTypes.Int64})
	if tombstones {
		fields = append(fields, arrow.Field{Name: connectors.DeletedColumn, Type: arrow.FixedWidthTypes.Boolean})
	}
	return arrow.NewSchema(fields, nil)
}

// NewBuilder returns a builder for the columns.
func NewBuilder(cols []Column, tombstones bool, opts Options) *Builder {
	if opts.Rows <= 0 {
		opts.Rows = defaultRows
	}
	if opts.MaxFieldBytes <= 0 {
		opts.MaxFieldBytes = DefaultMaxFieldBytes
	}
	if opts.Allocator == nil {
		opts.Allocator = memory.DefaultAllocator
	}
	schema := Schema(cols, tombstones)
	b := &Builder{
		cols:      cols,
		schema:    schema,
		rb:        array.NewRecordBuilder(opts.Allocator, schema),
		opts:      opts,
		pending:   make([]cell, len(cols)),
		hasTombs:  tombstones,
		dataBytes: make([]int, len(cols)),
	}
	b.reserve()
	return b
}

// reserve makes room for a full batch: every column's rows, and for a
// string column as many bytes as the last batch held.
func (b *Builder) reserve() {
	for i := range b.rb.Fields() {
		f := b.rb.Field(i)
		f.Reserve(b.opts.Rows)
		if sb, ok := f.(*array.StringBuilder); ok && i < len(b.cols) {
			sb.ReserveData(b.dataBytes[i])
		}
	}
}

// Schema is the schema of the batches this builder makes.
func (b *Builder) Schema() *arrow.Schema { return b.schema }

// Begin starts a new record, forgetting any values of an abandoned one.
func (b *Builder) Begin() {
	clear(b.pending)
}

// Check validates a string as a field value: UTF-8 and not over the size
// bound. Text fields and JSON strings both pass through it.
func (b *Builder) Check(s string) error {
	if len(s) > b.opts.MaxFieldBytes {
		return fmt.Errorf("value is %d bytes, over the %d-byte limit", len(s), b.opts.MaxFieldBytes)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("value is not valid UTF-8")
	}
	return nil
}

// SetText parses and stores a text cell for column i, as ParseText reads
// it.
func (b *Builder) SetText(i int, s string) error {
	if err := b.Check(s); err != nil {
		return err
	}
	switch t := b.cols[i].Type; t {
	case String:
		b.pending[i] = cell{kind: text, s: s}
	case Timestamp:
		if s = strings.TrimSpace(s); s == "" {
			b.pending[i] = cell{}
			return nil
		}
		v, err := parseTimestamp(s)
		if err != nil {
			return err
		}
		b.pending[i] = cell{kind: micros, n: v.UnixMicro()}
	default:
		v, err := ParseText(t, s)
		if err != nil {
			return err
		}
		b.Set(i, v)
	}
	return nil
}

// Set stores an already typed value (nil for null) for column i. The value
// must match the column type; sources convert before calling.
func (b *Builder) Set(i int, v any) {
	if v == nil {
		b.pending[i] = cell{}
		return
	}
	b.pending[i] = cell{kind: boxed, v: v}
}

// Commit appends the current record. Columns never set are null. It
// returns a finished batch when the batch is full, else nil.
func (b *Builder) Commit(pos int64, deleted bool) arrow.RecordBatch {
	for i, c := range b.cols {
		switch p := b.pending[i]; p.kind {
		case null:
			b.rb.Field(i).AppendNull()
		case text:
			b.rb.Field(i).(*array.StringBuilder).Append(p.s)
		case micros:
			b.rb.Field(i).(*array.TimestampBuilder).Append(arrow.Timestamp(p.n))
		case boxed:
			appendValue(b.rb.Field(i), c.Type, p.v)
		}
	}
	b.rb.Field(len(b.cols)).(*array.Int64Builder).Append(pos)
	if b.hasTombs {
		b.rb.Field(len(b.cols) + 1).(*array.BooleanBuilder).Append(deleted)
	}
	b.rows++
	if b.rows >= b.opts.Rows {
		return b.Flush()
	}
	return nil
}

// Flush returns the pending records as a batch, or nil if there are none.
// The caller owns the batch and must Release it.
func (b *Builder) Flush() arrow.RecordBatch {
	if b.rows == 0 {
		return nil
	}
	b.rows = 0
	for i := range b.cols {
		if sb, ok := b.rb.Field(i).(*array.StringBuilder); ok {
			// A little over, for a batch of longer values.
			b.dataBytes[i] = sb.DataLen() + sb.DataLen()/16
		}
	}
	rec := b.rb.NewRecordBatch()
	b.reserve()
	return rec
}

// Release frees the builder's buffers.
func (b *Builder) Release() { b.rb.Release() }

func appendValue(fb array.Builder, t Type, v any) {
	switch t {
	case String:
		fb.(*array.StringBuilder).Append(v.(string))
	case Int:
		fb.(*array.Int64Builder).Append(v.(int64))
	case Float:
		fb.(*array.Float64Builder).Append(v.(float64))
	case Bool:
		fb.(*array.BooleanBuilder).Append(v.(bool))
	case Timestamp:
		fb.(*array.TimestampBuilder).Append(arrow.Timestamp(v.(time.Time).UnixMicro()))
	}
}
