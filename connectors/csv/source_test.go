package csv

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/go-cmp/cmp"

	"github.com/idsync/idsync/connectors"
	"github.com/idsync/idsync/connectors/batch"
	"github.com/idsync/idsync/connectors/sourcetest"
)

var cols = []batch.Column{{Name: "id", Type: batch.String}, {Name: "name", Type: batch.String}, {Name: "hired", Type: batch.Timestamp}, {Name: "level", Type: batch.Int}}

// writeSource writes content to a file and returns a source over it with
// the test columns, keyed by id, and the rest of opts.
func writeSource(t *testing.T, content string, opts Options) *Source {
	t.Helper()
	opts.Path = filepath.Join(t.TempDir(), "hr.csv")
	if err := os.WriteFile(opts.Path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	opts.Key, opts.Columns = "id", cols
	src, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// read runs a source over content and returns the records read, as
// key@line, and the rejects.
func read(t *testing.T, content string, opts Options) (keys []string, rejects []string) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	opts.Batch.Allocator = mem
	src := writeSource(t, content, opts)
	// The sink strips the path, which is known only now.
	reject, got := sourcetest.Rejects(src.Name())
	src.opts.Reject = reject
	return sourcetest.Collect(t, src, "id"), *got
}

func TestRead(t *testing.T) {
	tests := map[string]struct {
		content     string
		wantKeys    []string
		wantRejects []string
	}{
		"good rows, any column order, extra columns ignored, BOM stripped": {
			content:  "\ufeffname,extra,id,hired,level\nAnn,x,E1,2024-01-02,3\nBo,y,E2,2024-01-03T10:00:00Z,\n",
			wantKeys: []string{"E1@2", "E2@3"},
		},
		"bad field rejects only its record, naming line, column and field": {
			content:     "id,name,hired,level\nE1,Ann,2024-01-02,1\nE2,Bo,not-a-date,2\nE3,Cy,2024-01-02,two\nE4,Di,2024-01-02,4\n",
			wantKeys:    []string{"E1@2", "E4@5"},
			wantRejects: []string{`:3:7: field hired: cannot parse "not-a-date" as timestamp (want RFC 3339 or YYYY-MM-DD)`, `:4:18: field level: cannot parse "two" as int`},
		},
		"wrong column count": {
			content:     "id,name,hired,level\nE1,Ann\nE2,Bo,2024-01-02,1\n",
			wantKeys:    []string{"E2@3"},
			wantRejects: []string{":2:1: wrong number of fields"},
		},
		"empty key": {
			content:     "id,name,hired,level\n  ,Ann,2024-01-02,1\nE2,Bo,2024-01-02,1\n",
			wantKeys:    []string{"E2@3"},
			wantRejects: []string{":2:1: field id: key is empty"},
		},
		"broken quote costs one record": {
			content:     "id,name,hired,level\nE1,An\"n,2024-01-02,1\nE2,Bo,2024-01-02,1\n",
			wantKeys:    []string{"E2@3"},
			wantRejects: []string{`:2:6: bare " in non-quoted-field`},
		},
		"unterminated quote at end of a truncated file": {
			content:     "id,name,hired,level\nE1,Ann,2024-01-02,1\nE2,\"Bo,2024-01-",
			wantKeys:    []string{"E1@2"},
			wantRejects: []string{`:3:16: extraneous or missing " in quoted-field`},
		},
		"non-UTF-8 byte": {
			content:     "id,name,hired,level\nE1,A\xffn,2024-01-02,1\nE2,Bo,2024-01-02,1\n",
			wantKeys:    []string{"E2@3"},
			wantRejects: []string{":2:4: field name: value is not valid UTF-8"},
		},
		"a non-UTF-8 byte rejects only in a declared field, before and after quotes": {
			content: "id,name,hired,level,note\nE1,Ann,2024-01-02,1,\xff\nE2,B\xffo,2024-01-02,1,x\nE3,Cy,2024-01-02,1,x\n" +
				"E4,\"D\xffi\",2024-01-02,1,x\nE5,\"Ed\",2024-01-02,1,\xff\n",
			wantKeys:    []string{"E1@2", "E3@4", "E5@6"},
			wantRejects: []string{":3:4: field name: value is not valid UTF-8", ":5:4: field name: value is not valid UTF-8"},
		},
		"multi-line quoted field keeps its starting line": {
			content:  "id,name,hired,level\nE1,\"Ann\nSmith\",2024-01-02,1\nE2,Bo,2024-01-02,1\n",
			wantKeys: []string{"E1@2", "E2@4"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			keys, rejects := read(t, tc.content, Options{})
			if diff := cmp.Diff(tc.wantKeys, keys); diff != "" {
				t.Errorf("%s: keys (-want +got):\n%s", name, diff)
			}
			if diff := cmp.Diff(tc.wantRejects, rejects); diff != "" {
				t.Errorf("%s: rejects (-want +got):\n%s", name, diff)
			}
		})
	}
}

func TestHugeFieldIsRejectedNotFatal(t *testing.T) {
	big := strings.Repeat("x", 10<<20)
	content := "id,name,hired,level\nE1," + big + ",2024-01-02,1\nE2,Bo,2024-01-02,1\n"
	keys, rejects := read(t, content, Options{})
	if diff := cmp.Diff([]string{"E2@3"}, keys); diff != "" {
		t.Errorf("keys (-want +got):\n%s", diff)
	}
	want := []string{":2:4: field name: value is 10485760 bytes, over the 4096-byte limit"}
	if diff := cmp.Diff(want, rejects); diff != "" {
		t.Errorf("rejects (-want +got):\n%s", diff)
	}
}

func TestBatchesAreBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("id,name,hired,level\n")
	for i := range 2500 {
		b.WriteString("E" + strings.Repeat("9", i%7) + string(rune('a'+i%26)) + ",n,2024-01-02,1\n")
	}
	path := filepath.Join(t.TempDir(), "hr.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	src, err := New(Options{Path: path, Key: "id", Columns: cols, Batch: batch.Options{Rows: 1000, Allocator: mem}})
	if err != nil {
		t.Fatal(err)
	}
	var sizes []int64
	err = src.Read(t.Context(), func(b arrow.RecordBatch) error {
		sizes = append(sizes, b.NumRows())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int64{1000, 1000, 500}, sizes); diff != "" {
		t.Errorf("batch sizes (-want +got):\n%s", diff)
	}
}

func TestFileLevelErrors(t *testing.T) {
	tests := map[string]struct {
		content string
		want    string
	}{
		"empty file":     {content: "", want: "file is empty (no header row)"},
		"missing column": {content: "id,name\nE1,Ann\n", want: ":1: header lacks declared column(s) hired, level"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			src := writeSource(t, tc.content, Options{})
			err := src.Read(context.Background(), func(arrow.RecordBatch) error { return nil })
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: err = %v, want it to contain %q", name, err, tc.want)
			}
		})
	}
}

// TestEstimateRecordsLeavesOutTheHeader: a small file is counted, not
// guessed, and its header is no record.
func TestEstimateRecordsLeavesOutTheHeader(t *testing.T) {
	src := writeSource(t, "id,name,hired,level\nE1,Ann,,1\nE2,Bo,,2\nE3,Cy,,3\n", Options{})
	if got := src.EstimateRecords(); got != 3 {
		t.Errorf("EstimateRecords = %d, want 3", got)
	}
	src, err := New(Options{Path: src.Name() + ".missing", Key: "id", Columns: cols})
	if err != nil || src.EstimateRecords() != -1 {
		t.Errorf("EstimateRecords of a missing file = %d (%v), want -1", src.EstimateRecords(), err)
	}
}

// TestRejectsKeepTheirKeys: the reader's fields point into its read
// buffer, which the rest of the file overwrites; a reject keeps a copy of
// its key. Two rejects (a bad field, a bad _deleted) come before more
// than a buffer's worth of records.
func TestRejectsKeepTheirKeys(t *testing.T) {
	var b strings.Builder
	b.WriteString("id,name,hired,level,_deleted\nEBAD1,Ann,2024-01-02,x,false\nEBAD2,Bo,2024-01-02,1,maybe\n")
	for i := range 60_000 {
		b.WriteString("E" + strings.Repeat("7", 6) + string(rune('a'+i%26)) + ",a name that fills the buffer,2024-01-02,1,false\n")
	}
	src := writeSource(t, b.String(), Options{Tombstones: true})
	var keys []string
	src.opts.Reject = func(e *connectors.RecordError) { keys = append(keys, e.Key) }
	n := 0
	err := src.Read(context.Background(), func(rec arrow.RecordBatch) error {
		n += int(rec.NumRows())
		return nil
	})
	if err != nil || n != 60_000 {
		t.Fatalf("read %d records, err %v", n, err)
	}
	if diff := cmp.Diff([]string{"EBAD1", "EBAD2"}, keys); diff != "" {
		t.Errorf("rejects' keys (-want +got):\n%s", diff)
	}
}
