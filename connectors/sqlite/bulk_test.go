package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/idsync/idsync/connectors"
)

func create(key, name string) connectors.Op {
	return connectors.Op{Action: connectors.Create, Key: key, Changes: []connectors.Change{{Attr: "userName", New: name}}}
}

// TestBulkGivesEachOpItsOwnOutcome: a bulk whose ops all succeed commits
// them together; a bulk with a failing op still applies the others, once
// each, and reports the failure against that op alone.
func TestBulkGivesEachOpItsOwnOutcome(t *testing.T) {
	tg, err := Open(t.Context(), Options{Path: filepath.Join(t.TempDir(), "d.db"), Attributes: []string{"userName"}})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	res, errs := tg.ApplyBulk(t.Context(), []connectors.Op{create("E1", "ann"), create("E2", "bo")})
	if errs[0] != nil || errs[1] != nil || res[0].ID == "" || res[1].ID == "" || res[0].ID == res[1].ID {
		t.Fatalf("all-good bulk: results %+v, errors %v", res, errs)
	}
	_, errs = tg.ApplyBulk(t.Context(), []connectors.Op{
		create("E3", "cy"),
		{Action: connectors.Update, Key: "E9", ID: "999", Changes: []connectors.Change{{Attr: "userName", New: "x"}}},
		{Action: connectors.Disable, Key: "E1", ID: res[0].ID},
	})
	if errs[0] != nil || errs[2] != nil || !errors.Is(errs[1], connectors.ErrNotFound) {
		t.Fatalf("bulk with a failing op: errors %v, want only the update of a missing id to fail (not found)", errs)
	}
	all, err := tg.All(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range all {
		state := "enabled"
		if o.Disabled {
			state = "disabled"
		}
		got = append(got, o.Attrs["userName"].(string)+" "+state)
	}
	if diff := cmp.Diff([]string{"ann disabled", "bo enabled", "cy enabled"}, got); diff != "" {
		t.Errorf("rows after both bulks (-want +got):\n%s", diff)
	}
}

// TestBulkOfAStoppedRunWritesNothing: the bulk's statements ignore the
// run's cancellation (see applyInTx), so the bulk itself must honour it.
func TestBulkOfAStoppedRunWritesNothing(t *testing.T) {
	tg, err := Open(t.Context(), Options{Path: filepath.Join(t.TempDir(), "d.db"), Attributes: []string{"userName"}})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	ctx, stop := context.WithCancel(t.Context())
	stop()
	_, errs := tg.ApplyBulk(ctx, []connectors.Op{create("E1", "ann"), create("E2", "bo")})
	for i, err := range errs {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("op %d: error %v, want context.Canceled", i, err)
		}
	}
	if all, err := tg.All(t.Context()); err != nil || len(all) != 0 {
		t.Fatalf("a stopped run's bulk wrote %d rows (error %v); want none", len(all), err)
	}
}
