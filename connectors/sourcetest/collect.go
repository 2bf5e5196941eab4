package sourcetest

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

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

// CheckRead reads src to the end and holds what every source promises for
// any input: no record with an empty key is emitted, and a whole-file
// error names the file (when nameErrors is set). Fuzz targets use it.
func CheckRead(t *testing.T, src connectors.Source, key string, nameErrors bool) {
	t.Helper()
	err := src.Read(t.Context(), func(b arrow.RecordBatch) error {
		keys := b.Column(b.Schema().FieldIndices(key)[0]).(*array.String)
		for i := range int(b.NumRows()) {
			if strings.TrimSpace(keys.Value(i)) == "" {
				t.Errorf("a record with an empty key was read")
			}
		}
		return nil
	})
	if err != nil && (!nameErrors || !strings.Contains(err.Error(), src.Name())) {
		t.Errorf("read: %v", err)
	}
}

// StrictReject is a reject sink that fails the test for a reject without
// a line or a reason.
func StrictReject(t *testing.T) connectors.RejectFunc {
	return func(e *connectors.RecordError) {
		if e.Line <= 0 || e.Reason == "" {
			t.Errorf("reject without a line or reason: %+v", e)
		}
	}
}

// FuzzInput writes one fuzz input to a file named name in a fresh
// directory and returns its path, with an allocator that fails the test if
// the read leaks Arrow memory.
func FuzzInput(t *testing.T, name, content string) (string, memory.Allocator) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, mem
}
