package sourcetest

import (
	"strconv"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/idsync/idsync/connectors"
)

// Collect reads src fully and returns "key@position" for every record, so
// tests can assert both what was read and where it came from.
func Collect(t testing.TB, src connectors.Source, key string) []string {
	t.Helper()
	var out []string
	err := src.Read(t.Context(), func(b arrow.RecordBatch) error {
		schema := b.Schema()
		keys := b.Column(schema.FieldIndices(key)[0]).(*array.String)
		pos := b.Column(schema.FieldIndices(connectors.PosColumn)[0]).(*array.Int64)
		for i := range int(b.NumRows()) {
			out = append(out, keys.Value(i)+"@"+strconv.FormatInt(pos.Value(i), 10))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("read %s: %v", src.Name(), err)
	}
	return out
}

// Rejects returns a reject sink and the slice it fills, with each error's
// text minus the file path prefix.
func Rejects(path string) (connectors.RejectFunc, *[]string) {
	var got []string
	return func(e *connectors.RecordError) {
		msg := e.Error()
		if len(msg) > len(path) && msg[:len(path)] == path {
			msg = msg[len(path):]
		}
		got = append(got, msg)
	}, &got
}
