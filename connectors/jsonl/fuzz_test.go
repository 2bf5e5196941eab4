package jsonl

import (
	"testing"

	"github.com/idsync/idsync/connectors/batch"
	"github.com/idsync/idsync/connectors/sourcetest"
)

// FuzzRead: any bytes are read or rejected line by line, without panics or
// leaks; rejects name their line and records read have keys.
func FuzzRead(f *testing.F) {
	for _, seed := range []string{
		`{"id":"E1","name":"Ann","level":3,"active":true}` + "\n",
		`{"id":"E2","name":` + "\n" + `{"id":"E3","level":"high"}` + "\n" + `[1,2]` + "\n",
		`{"id":"E4","name":{"a":1}} {"id":"E5"}`,
		"\n\n\xff\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, content string) {
		path, mem := sourcetest.FuzzInput(t, "f.jsonl", content)
		src, err := New(Options{Path: path, Key: "id", Columns: cols, Batch: batch.Options{Allocator: mem, Rows: 2},
			Reject: sourcetest.StrictReject(t)})
		if err != nil {
			t.Fatal(err)
		}
		sourcetest.CheckRead(t, src, "id", false)
	})
}
