package jsonl

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/idsync/idsync/connectors"
)

// TestBulkWritesLinesInOrderAndFailsOnlyTheBadOp: a bulk is one write of
// its ops' lines, in order; an op that cannot be encoded (a NaN) fails
// alone and leaves no line.
func TestBulkWritesLinesInOrderAndFailsOnlyTheBadOp(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.jsonl")
	tg, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	res, errs := tg.ApplyBulk(t.Context(), []connectors.Op{
		{Action: connectors.Create, Key: "E1", Changes: []connectors.Change{{Attr: "name", New: "Ann"}}},
		{Action: connectors.Update, Key: "E2", ID: "E2", Changes: []connectors.Change{{Attr: "score", New: math.NaN()}}},
		{Action: connectors.Disable, Key: "E3", ID: "E3"},
	})
	if err := tg.Close(); err != nil {
		t.Fatal(err)
	}
	if errs[0] != nil || errs[1] == nil || errs[2] != nil || res[0].ID != "E1" || res[2].ID != "E3" {
		t.Fatalf("results %+v, errors %v; want only the NaN update to fail", res, errs)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"action":"create","key":"E1","id":"E1","changes":{"name":"Ann"}}
{"action":"disable","key":"E3","id":"E3"}
`
	if diff := cmp.Diff(want, string(b)); diff != "" {
		t.Errorf("file (-want +got):\n%s", diff)
	}
}

// TestTargetWritesToDevNull applies an op to /dev/null, a path users give
// to discard a target's output, and closes it: fsync refuses character
// devices, which must not fail the run.
func TestTargetWritesToDevNull(t *testing.T) {
	tg, err := Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tg.Apply(context.Background(), connectors.Op{Action: connectors.Create, Key: "E1"}); err != nil {
		t.Fatal(err)
	}
	if err := tg.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}
