package batch

import (
	"fmt"
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
	pending  []any
	set      []bool
	rows     int
	hasTombs bool
}

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
	return &Builder{
		cols:     cols,
		schema:   schema,
		rb:       array.NewRecordBuilder(opts.Allocator, schema),
		opts:     opts,
		pending:  make([]any, len(cols)),
		set:      make([]bool, len(cols)),
		hasTombs: tombstones,
	}
}

// Schema is the schema of the batches this builder makes.
func (b *Builder) Schema() *arrow.Schema { return b.schema }

// Begin starts a new record, forgetting any values of an abandoned one.
func (b *Builder) Begin() {
	clear(b.pending)
	clear(b.set)
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

// SetText parses and stores a text cell for column i.
func (b *Builder) SetText(i int, s string) error {
	if err := b.Check(s); err != nil {
		return err
	}
	v, err := ParseText(b.cols[i].Type, s)
	if err != nil {
		return err
	}
	b.pending[i], b.set[i] = v, true
	return nil
}

// Set stores an already typed value (nil for null) for column i. The value
// must match the column type; sources convert before calling.
func (b *Builder) Set(i int, v any) {
	b.pending[i], b.set[i] = v, true
}

// Value returns what has been set for column i in the current record.
func (b *Builder) Value(i int) any { return b.pending[i] }

// Commit appends the current record. Columns never set are null. It
// returns a finished batch when the batch is full, else nil.
func (b *Builder) Commit(pos int64, deleted bool) arrow.RecordBatch {
	for i, c := range b.cols {
		appendValue(b.rb.Field(i), c.Type, b.pending[i])
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
	return b.rb.NewRecordBatch()
}

// Release frees the builder's buffers.
func (b *Builder) Release() { b.rb.Release() }

func appendValue(fb array.Builder, t Type, v any) {
	if v == nil {
		fb.AppendNull()
		return
	}
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
