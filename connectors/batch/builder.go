package batch

import (
	"errors"
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
	cols   []Column
	schema *arrow.Schema
	opts   Options
	// raw[i] builds string and timestamp column i (see rawColumn), and
	// other[i] every other column; pos and tombs the extra columns.
	raw     []*rawColumn
	other   []array.Builder
	pos     *rawColumn
	tombs   *array.BooleanBuilder
	pending []cell
	// texts, when set, holds the current record's string columns' values
	// (see SetTexts); pending then holds only the others.
	texts    []string
	rows     int
	hasTombs bool
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
		cols:     cols,
		schema:   schema,
		opts:     opts,
		raw:      make([]*rawColumn, len(cols)),
		other:    make([]array.Builder, len(cols)),
		pos:      newRawColumn(arrow.PrimitiveTypes.Int64),
		pending:  make([]cell, len(cols)),
		hasTombs: tombstones,
	}
	for i, c := range cols {
		if c.Type == String || c.Type == Timestamp {
			b.raw[i] = newRawColumn(c.Type.Arrow())
		} else {
			b.other[i] = array.NewBuilder(opts.Allocator, c.Type.Arrow())
		}
	}
	if tombstones {
		b.tombs = array.NewBooleanBuilder(opts.Allocator)
	}
	b.reserve()
	return b
}

// reserve makes room for a full batch: every column's rows, and for a
// string column as many bytes as the last batch held, so that its buffers
// are allocated once rather than doubled from empty, each doubling
// leaving its old buffer behind as garbage.
func (b *Builder) reserve() {
	for i := range b.cols {
		if b.raw[i] != nil {
			b.raw[i].begin(b.opts.Allocator, b.opts.Rows)
		} else {
			b.other[i].Reserve(b.opts.Rows)
		}
	}
	b.pos.begin(b.opts.Allocator, b.opts.Rows)
	if b.tombs != nil {
		b.tombs.Reserve(b.opts.Rows)
	}
}

// Schema is the schema of the batches this builder makes.
func (b *Builder) Schema() *arrow.Schema { return b.schema }

// Begin starts a new record, forgetting any values of an abandoned one.
func (b *Builder) Begin() {
	clear(b.pending)
	b.texts = nil
}

// Check validates a string as a field value: UTF-8 and not over the size
// bound. Text fields and JSON strings both pass through it.
func (b *Builder) Check(s string) error {
	if err := b.checkSize(s); err != nil {
		return err
	}
	if !utf8.ValidString(s) {
		return errNotUTF8
	}
	return nil
}

func (b *Builder) checkSize(s string) error {
	if len(s) > b.opts.MaxFieldBytes {
		return fmt.Errorf("value is %d bytes, over the %d-byte limit", len(s), b.opts.MaxFieldBytes)
	}
	return nil
}

// SetText parses and stores a text cell for column i, as ParseText reads
// it.
func (b *Builder) SetText(i int, s string) error {
	if err := b.Check(s); err != nil {
		return err
	}
	return b.setText(i, s)
}

// SetTexts sets every column from its text, fields[i] for column i, as
// SetText would one by one, except that checked says the caller already
// found the text valid UTF-8: a CSV source checks a whole line at once,
// which cost a third or less of checking its fields one by one. At a bad
// field it returns the field's column and why, and the record is to be
// abandoned. A string column's value goes into no pending cell: Commit
// appends it straight from fields, which must stay as they are until
// then. Setting a record's fields one by one took as long as splitting its
// line.
func (b *Builder) SetTexts(fields []string, checked bool) (int, error) {
	for i, s := range fields {
		if err := b.checkSize(s); err != nil {
			return i, err
		}
		if !checked && !utf8.ValidString(s) {
			return i, errNotUTF8
		}
		if b.cols[i].Type != String {
			if err := b.setText(i, s); err != nil {
				return i, err
			}
		}
	}
	b.texts = fields
	return -1, nil
}

var errNotUTF8 = errors.New("value is not valid UTF-8")

func (b *Builder) setText(i int, s string) error {
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
	mem := b.opts.Allocator
	for i, c := range b.cols {
		// In place: copying each cell out was most of Commit's own time
		// in a profile.
		p := &b.pending[i]
		if r := b.raw[i]; r != nil {
			switch {
			case b.texts != nil && c.Type == String:
				r.appendText(mem, b.texts[i])
			case p.kind == null:
				r.appendNull(mem)
			case p.kind == text:
				r.appendText(mem, p.s)
			case p.kind == micros:
				r.appendInt(mem, p.n)
			case c.Type == String:
				r.appendText(mem, p.v.(string))
			default:
				r.appendInt(mem, p.v.(time.Time).UnixMicro())
			}
			continue
		}
		if p.kind == null {
			b.other[i].AppendNull()
		} else {
			appendValue(b.other[i], c.Type, p.v)
		}
	}
	b.pos.appendInt(mem, pos)
	if b.tombs != nil {
		b.tombs.Append(deleted)
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
	cols := make([]arrow.Array, 0, len(b.cols)+2)
	for i := range b.cols {
		if b.raw[i] != nil {
			cols = append(cols, b.raw[i].finish())
		} else {
			cols = append(cols, b.other[i].NewArray())
		}
	}
	cols = append(cols, b.pos.finish())
	if b.tombs != nil {
		cols = append(cols, b.tombs.NewArray())
	}
	rec := array.NewRecordBatch(b.schema, cols, int64(b.rows))
	for _, c := range cols {
		c.Release() // the batch holds them
	}
	b.rows = 0
	b.reserve()
	return rec
}

// Release frees the builder's buffers.
func (b *Builder) Release() {
	for i := range b.cols {
		if b.raw[i] != nil {
			b.raw[i].release()
		} else {
			b.other[i].Release()
		}
	}
	b.pos.release()
	if b.tombs != nil {
		b.tombs.Release()
	}
}

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
