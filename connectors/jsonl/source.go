package jsonl

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/idsync/idsync/connectors"
	"github.com/idsync/idsync/connectors/batch"
)

var (
	_ connectors.Source    = (*Source)(nil)
	_ connectors.Estimator = (*Source)(nil)
)

// Options configure a JSONL source.
type Options struct {
	// Path of the file. Required.
	Path string
	// Columns are the declared schema. Object fields not declared are
	// ignored; a declared field that is absent or null reads as null ("" for
	// strings).
	Columns []batch.Column
	// Key is the name of the key column, a string column.
	Key string
	// Tombstones reads an optional "_deleted" boolean field.
	Tombstones bool
	// Batch sizes and bounds the batches.
	Batch batch.Options
	// Reject receives every bad record.
	Reject connectors.RejectFunc
}

// Source reads one JSONL file: one JSON object per line.
type Source struct {
	opts   Options
	keyIdx int
}

// New checks the options and returns a source.
func New(opts Options) (*Source, error) {
	if opts.Path == "" {
		return nil, errors.New("jsonl: path is required")
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
		return nil, fmt.Errorf("jsonl: key %q must be a declared string column", opts.Key)
	}
	return &Source{opts: opts, keyIdx: keyIdx}, nil
}

// Name is the file path.
func (s *Source) Name() string { return s.opts.Path }

// EstimateRecords guesses the records from the file's lines (see
// connectors.EstimateLines).
func (s *Source) EstimateRecords() int { return connectors.EstimateLines(s.opts.Path) }

// Schema is the declared columns plus the position column.
func (s *Source) Schema() *arrow.Schema { return batch.Schema(s.opts.Columns, s.opts.Tombstones) }

// Read streams the file. Blank lines are skipped; line numbers are 1-based.
func (s *Source) Read(ctx context.Context, emit func(arrow.RecordBatch) error) error {
	f, err := os.Open(s.opts.Path)
	if err != nil {
		return err
	}
	defer f.Close() //nolint:errcheck // read-only: nothing to lose on close
	br := bufio.NewReaderSize(f, 1<<20)
	b := batch.NewBuilder(s.opts.Columns, s.opts.Tombstones, s.opts.Batch)
	defer b.Release()
	send := func(rec arrow.RecordBatch) error {
		if rec == nil {
			return nil
		}
		defer rec.Release()
		return emit(rec)
	}
	for line := 1; ; line++ {
		if line%1024 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		raw, err := br.ReadBytes('\n')
		if len(bytes.TrimSpace(raw)) > 0 {
			if deleted, ok := s.fill(b, raw, line); ok {
				if err := send(b.Commit(int64(line), deleted)); err != nil {
					return err
				}
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("%s:%d: %w", s.opts.Path, line, err)
		}
	}
	return send(b.Flush())
}

// fill decodes one line into the builder, rejecting it at the first problem.
func (s *Source) fill(b *batch.Builder, raw []byte, line int) (deleted, ok bool) {
	var obj map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&obj); err != nil || dec.More() {
		reason := "not a single JSON object"
		if err != nil {
			reason = "invalid JSON: " + err.Error()
		}
		s.opts.Reject(&connectors.RecordError{File: s.opts.Path, Line: line, Reason: reason})
		return false, false
	}
	key, _ := obj[s.opts.Key].(string)
	reject := func(field, reason string) (bool, bool) {
		s.opts.Reject(&connectors.RecordError{File: s.opts.Path, Line: line, Field: field, Key: key, Reason: reason})
		return false, false
	}
	if strings.TrimSpace(key) == "" {
		return reject(s.opts.Key, "key is missing or empty")
	}
	b.Begin()
	for i, c := range s.opts.Columns {
		v, err := convert(b, c.Type, obj[c.Name])
		if err != nil {
			return reject(c.Name, err.Error())
		}
		b.Set(i, v)
	}
	if s.opts.Tombstones {
		switch d := obj[connectors.DeletedColumn].(type) {
		case nil:
		case bool:
			deleted = d
		default:
			return reject(connectors.DeletedColumn, fmt.Sprintf("want a boolean, got %v", d))
		}
	}
	return deleted, true
}

// convert maps a decoded JSON value to the column's Go type. Strings are
// accepted for every type so that exports which quote everything still load.
func convert(b *batch.Builder, t batch.Type, v any) (any, error) {
	switch x := v.(type) {
	case nil:
		if t == batch.String {
			return "", nil
		}
		return nil, nil
	case string:
		if err := b.Check(x); err != nil {
			return nil, err
		}
		return batch.ParseText(t, x)
	case json.Number:
		if t == batch.String {
			return x.String(), nil
		}
		if t == batch.Int || t == batch.Float {
			return batch.ParseText(t, x.String())
		}
	case bool:
		if t == batch.Bool {
			return x, nil
		}
		if t == batch.String {
			return fmt.Sprint(x), nil
		}
	}
	return nil, fmt.Errorf("want %v, got JSON %s", t, jsonKind(v))
}

func jsonKind(v any) string {
	switch v.(type) {
	case json.Number:
		return "number"
	case bool:
		return "boolean"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}
