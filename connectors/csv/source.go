package csv

import (
	"context"
	stdcsv "encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/idsync/idsync/connectors"
	"github.com/idsync/idsync/connectors/batch"
)

var (
	_ connectors.Source    = (*Source)(nil)
	_ connectors.Estimator = (*Source)(nil)
)

// Options configure a CSV source.
type Options struct {
	// Path of the file. Required.
	Path string
	// Columns are the declared schema, in order. Header columns not declared
	// are ignored; declared columns missing from the header are an error.
	Columns []batch.Column
	// Key is the name of the key column, which must be a string column.
	Key string
	// Comma is the field delimiter. Defaults to ','.
	Comma rune
	// Tombstones reads an optional "_deleted" column (true marks a removed
	// record). Set it for delta files.
	Tombstones bool
	// Batch sizes and bounds the batches.
	Batch batch.Options
	// Reject receives every bad record. Defaults to dropping them silently,
	// which only tests should rely on.
	Reject connectors.RejectFunc
}

// Source reads one CSV file.
type Source struct {
	opts   Options
	keyIdx int
}

// New checks the options and returns a source. The file is not opened until
// Read.
func New(opts Options) (*Source, error) {
	if opts.Path == "" {
		return nil, errors.New("csv: path is required")
	}
	if opts.Comma == 0 {
		opts.Comma = ','
	}
	if opts.Reject == nil {
		opts.Reject = func(*connectors.RecordError) {}
	}
	keyIdx := -1
	for i, c := range opts.Columns {
		if c.Name == opts.Key {
			keyIdx = i
		}
	}
	if keyIdx < 0 || opts.Columns[keyIdx].Type != batch.String {
		return nil, fmt.Errorf("csv: key %q must be a declared string column", opts.Key)
	}
	return &Source{opts: opts, keyIdx: keyIdx}, nil
}

// Name is the file path.
func (s *Source) Name() string { return s.opts.Path }

// EstimateRecords guesses the records from the file's lines, less the
// header (see connectors.EstimateLines).
func (s *Source) EstimateRecords() int {
	n := connectors.EstimateLines(s.opts.Path)
	if n < 0 {
		return n
	}
	return max(0, n-1)
}

// Schema is the declared columns plus the position column.
func (s *Source) Schema() *arrow.Schema { return batch.Schema(s.opts.Columns, s.opts.Tombstones) }

// Read streams the file. Line numbers in rejects are 1-based file lines, so
// multi-line quoted fields are reported where they start.
func (s *Source) Read(ctx context.Context, emit func(arrow.RecordBatch) error) error {
	f, err := os.Open(s.opts.Path)
	if err != nil {
		return err
	}
	defer f.Close() //nolint:errcheck // read-only: nothing to lose on close
	r := newRecordReader(f, s.opts.Comma)
	header, err := r.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("%s: file is empty (no header row)", s.opts.Path)
		}
		return fmt.Errorf("%s: header: %w", s.opts.Path, err)
	}
	// The reader's fields last until its next read.
	header = slices.Clone(header)
	for i := range header {
		header[i] = strings.Clone(header[i])
	}
	idx, delIdx, err := s.mapHeader(header)
	if err != nil {
		return err
	}
	r.FieldsPerRecord = len(header)

	b := batch.NewBuilder(s.opts.Columns, s.opts.Tombstones, s.opts.Batch)
	defer b.Release()
	fields := make([]string, len(idx)) // one record's declared fields, in column order
	send := func(rec arrow.RecordBatch) error {
		if rec == nil {
			return nil
		}
		defer rec.Release()
		return emit(rec)
	}
	for n := 0; ; n++ {
		if n%1024 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// A syntax error costs only its record: encoding/csv resumes at
			// the next record. Anything else (an I/O error) ends the read.
			var pe *stdcsv.ParseError
			if !errors.As(err, &pe) {
				return fmt.Errorf("%s: %w", s.opts.Path, err)
			}
			s.rejectParse(pe)
			continue
		}
		line, _ := r.FieldPos(0)
		if ok := s.fill(b, r, rec, idx, fields, line); !ok {
			continue
		}
		deleted := false
		if delIdx >= 0 {
			v, perr := batch.ParseText(batch.Bool, rec[delIdx])
			if perr != nil {
				_, col := r.FieldPos(delIdx)
				s.opts.Reject(&connectors.RecordError{File: s.opts.Path, Line: line, Column: col,
					Field: connectors.DeletedColumn, Key: strings.Clone(rec[idx[s.keyIdx]]), Reason: perr.Error()})
				continue
			}
			deleted = v == true
		}
		if err := send(b.Commit(int64(line), deleted)); err != nil {
			return err
		}
	}
	return send(b.Flush())
}

// mapHeader finds each declared column in the header.
func (s *Source) mapHeader(header []string) (idx []int, delIdx int, err error) {
	pos := make(map[string]int, len(header))
	for i, h := range header {
		if i == 0 {
			h = strings.TrimPrefix(h, "\ufeff") // Excel writes a BOM.
		}
		pos[strings.TrimSpace(h)] = i
	}
	idx = make([]int, len(s.opts.Columns))
	var missing []string
	for i, c := range s.opts.Columns {
		p, ok := pos[c.Name]
		if !ok {
			missing = append(missing, c.Name)
		}
		idx[i] = p
	}
	if len(missing) > 0 {
		return nil, 0, fmt.Errorf("%s:1: header lacks declared column(s) %s", s.opts.Path, strings.Join(missing, ", "))
	}
	delIdx = -1
	if p, ok := pos[connectors.DeletedColumn]; ok && s.opts.Tombstones {
		delIdx = p
	}
	return idx, delIdx, nil
}

// fill sets every declared field of one record, rejecting the record at the
// first bad field. The key is checked first so later errors can name it.
// The builder copies the fields when the record is committed, before the
// reader's next read.
func (s *Source) fill(b *batch.Builder, r *recordReader, rec []string, idx []int, fields []string, line int) bool {
	b.Begin()
	key := rec[idx[s.keyIdx]]
	reject := func(i int, reason string) bool {
		_, col := r.FieldPos(idx[i])
		s.opts.Reject(&connectors.RecordError{File: s.opts.Path, Line: line, Column: col,
			Field: s.opts.Columns[i].Name, Key: strings.Clone(key), Reason: reason})
		return false
	}
	if strings.TrimSpace(key) == "" {
		return reject(s.keyIdx, "key is empty")
	}
	for i, at := range idx {
		fields[i] = rec[at]
	}
	if i, err := b.SetTexts(fields, r.utf8); err != nil {
		return reject(i, err.Error())
	}
	return true
}

// rejectParse reports a CSV syntax error with the reader's position.
func (s *Source) rejectParse(pe *stdcsv.ParseError) {
	re := &connectors.RecordError{File: s.opts.Path, Line: pe.StartLine, Column: pe.Column, Reason: pe.Err.Error()}
	if pe.Line != pe.StartLine {
		re.Reason += fmt.Sprintf(" (record runs to line %d)", pe.Line)
	}
	s.opts.Reject(re)
}
