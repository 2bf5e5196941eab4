package connectors

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
)

// Column conventions every source follows. They are the only record
// contract beyond Arrow itself.
const (
	// PosColumn is an int64 column with the record's position in its input
	// (line number for text files), so every later error can name it.
	PosColumn = "_pos"
	// DeletedColumn is an optional bool column: true marks a tombstone in a
	// delta snapshot.
	DeletedColumn = "_deleted"
)

// Source streams a snapshot as Arrow record batches.
type Source interface {
	// Schema is the schema of every batch: the declared columns, then
	// PosColumn.
	Schema() *arrow.Schema
	// Read calls emit once per batch, in input order. The batch is released
	// when emit returns; emit must Retain it to keep it. Bad records are not
	// errors of Read: they go to the source's reject sink and the rest go
	// on. Read returns an error only when the input as a whole is unusable.
	Read(ctx context.Context, emit func(arrow.RecordBatch) error) error
	// Name is the input's name for messages (a file path, a table).
	Name() string
}

// RecordError names a bad record precisely enough to fix it.
type RecordError struct {
	File   string
	Line   int    // 1-based; 0 when unknown.
	Column int    // 1-based; 0 when unknown or not meaningful.
	Field  string // the schema field, when one is to blame.
	Key    string // the record's key, when it could be read.
	Reason string
}

func (e *RecordError) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc += fmt.Sprintf(":%d", e.Line)
		if e.Column > 0 {
			loc += fmt.Sprintf(":%d", e.Column)
		}
	}
	msg := loc + ": "
	if e.Field != "" {
		msg += "field " + e.Field + ": "
	}
	return msg + e.Reason
}

// RejectFunc receives each record a source could not read. It must not
// block for long: it runs inline with parsing.
type RejectFunc func(*RecordError)
