package csv

import (
	"os"
	"testing"

	"github.com/idsync/idsync/connectors/batch"
	"github.com/idsync/idsync/connectors/sourcetest"
)

// FuzzRead: any bytes are read or rejected record by record. Nothing
// panics or leaks, every reject names a line, every record read has a
// non-empty key, and a whole-file error names the file.
func FuzzRead(f *testing.F) {
	for _, seed := range []string{
		"id,name,hired,level\nE1,Ann,2024-01-02,1\n",
		"id,name,hired,level\nE1,An\"n,2024-01-02,1\nE2,\"Bo\nx\",2024-01-03,\n",
		"\ufeffname,id,level,hired\n,,,\nE9,x,notanint,2024-13-01\n",
		"id,name,hired,level\nE1,A\xffn,2024-01-02,1\nE2",
		"",
	} {
		f.Add(seed)
	}
	if data, err := os.ReadFile("../../testdata/quickstart/hr.csv"); err == nil {
		f.Add(string(data[:min(len(data), 4000)]))
	}
	f.Fuzz(func(t *testing.T, content string) {
		path, mem := sourcetest.FuzzInput(t, "f.csv", content)
		src, err := New(Options{Path: path, Key: "id", Columns: cols, Batch: batch.Options{Allocator: mem, Rows: 3},
			Reject: sourcetest.StrictReject(t)})
		if err != nil {
			t.Fatal(err)
		}
		sourcetest.CheckRead(t, src, "id", true)
	})
}
