package jsonl

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/go-cmp/cmp"

	"github.com/idsync/idsync/connectors/batch"
	"github.com/idsync/idsync/connectors/sourcetest"
)

var cols = []batch.Column{{Name: "id", Type: batch.String}, {Name: "name", Type: batch.String}, {Name: "level", Type: batch.Int}, {Name: "active", Type: batch.Bool}}

func TestRead(t *testing.T) {
	tests := map[string]struct {
		content     string
		wantKeys    []string
		wantRejects []string
	}{
		"good lines; blank lines skipped; unknown fields ignored; strings accepted for numbers": {
			content:  `{"id":"E1","name":"Ann","level":3,"active":true,"x":[1]}` + "\n\n" + `{"id":"E2","level":"4"}` + "\n",
			wantKeys: []string{"E1@1", "E2@3"},
		},
		"each bad line is rejected alone, naming line and field": {
			content: `{"id":"E1","name":"Ann"}` + "\n" +
				`{"id":"E2","name":` + "\n" +
				`{"id":"E3","level":"high"}` + "\n" +
				`{"id":"E4","active":"yes"}` + "\n" +
				`{"id":"","name":"NoKey"}` + "\n" +
				`{"id":"E6","name":{"a":1}}` + "\n" +
				`{"id":"E7","name":"B\ud800"}` + "\n" +
				`{"id":"E8"} {"id":"E9"}` + "\n" +
				`{"id":"E10","name":"Bo"}`,
			wantKeys: []string{"E1@1", "E7@7", "E10@9"},
			wantRejects: []string{
				":2: invalid JSON: unexpected EOF",
				`:3: field level: cannot parse "high" as int`,
				`:4: field active: cannot parse "yes" as bool`,
				":5: field id: key is missing or empty",
				":6: field name: want string, got JSON object",
				":8: not a single JSON object",
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			path := filepath.Join(t.TempDir(), "hr.jsonl")
			if err := os.WriteFile(path, []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			reject, rejects := sourcetest.Rejects(path)
			src, err := New(Options{Path: path, Key: "id", Columns: cols, Reject: reject, Batch: batch.Options{Allocator: mem}})
			if err != nil {
				t.Fatal(err)
			}
			keys := sourcetest.Collect(t, src, "id")
			if diff := cmp.Diff(tc.wantKeys, keys); diff != "" {
				t.Errorf("%s: keys (-want +got):\n%s", name, diff)
			}
			if diff := cmp.Diff(tc.wantRejects, *rejects); diff != "" {
				t.Errorf("%s: rejects (-want +got):\n%s", name, diff)
			}
		})
	}
}

func TestTargetAppendsOps(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ops.jsonl")
	tg, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	res, err := tg.Apply(t.Context(), createOp("E1"))
	if err != nil || res.ID != "E1" {
		t.Fatalf("apply: %v, %v", res, err)
	}
	if err := tg.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"action":"create","key":"E1","id":"E1","changes":{"name":"Ann"},"reason":"new"}` + "\n"
	if diff := cmp.Diff(want, string(data)); diff != "" {
		t.Errorf("file (-want +got):\n%s", diff)
	}
	if strings.Count(string(data), "\n") != 1 {
		t.Errorf("want exactly one line")
	}
}
