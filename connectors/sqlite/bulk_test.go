package sqlite

import (
	"context"
	"errors"
	"fmt"
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

// TestBulkOfManyCreatesLinksEachRow: a first sync's bulk writes its
// creates many rows a statement; each op's id must be its own row's, and
// creates past the last full statement, or writing other attributes, still
// go one by one.
func TestBulkOfManyCreatesLinksEachRow(t *testing.T) {
	tg, err := Open(t.Context(), Options{Path: filepath.Join(t.TempDir(), "d.db"), Attributes: []string{"userName", "mail"}})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	var ops []connectors.Op
	for i := range 2*createsPerInsert + 5 {
		op := create(fmt.Sprintf("E%03d", i), fmt.Sprintf("user%03d", i))
		if i == createsPerInsert+3 { // breaks the second statement's run
			op.Changes = append(op.Changes, connectors.Change{Attr: "mail", New: "m@x"})
		}
		ops = append(ops, op)
	}
	res, errs := tg.ApplyBulk(t.Context(), ops)
	for i, op := range ops {
		if errs[i] != nil {
			t.Fatalf("op %d: %v", i, errs[i])
		}
		var key, name string
		if err := tg.DB().QueryRow(`SELECT _key, userName FROM users WHERE id = ?`, res[i].ID).Scan(&key, &name); err != nil {
			t.Fatalf("op %d (id %q): %v", i, res[i].ID, err)
		}
		if key != op.Key || name != op.Changes[0].New {
			t.Errorf("op %d (%s) got id %s, whose row is %s %s", i, op.Key, res[i].ID, key, name)
		}
	}
	var rows int
	if err := tg.DB().QueryRow(`SELECT count(*) FROM users`).Scan(&rows); err != nil || rows != len(ops) {
		t.Errorf("%d rows (error %v), want %d", rows, err, len(ops))
	}
}

// TestBulkOfManyCreatesWithAConflict: one create of a full statement
// breaks a unique index the table's owner added; the bulk is rolled back
// and applied op by op, so only that op fails (as already existing) and
// the others get their own rows.
func TestBulkOfManyCreatesWithAConflict(t *testing.T) {
	tg, err := Open(t.Context(), Options{Path: filepath.Join(t.TempDir(), "d.db"), Attributes: []string{"userName"}})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	if _, err := tg.DB().Exec(`CREATE UNIQUE INDEX owner_names ON users (userName)`); err != nil {
		t.Fatal(err)
	}
	if _, errs := tg.ApplyBulk(t.Context(), []connectors.Op{create("X", "taken")}); errs[0] != nil {
		t.Fatal(errs[0])
	}
	var ops []connectors.Op
	for i := range createsPerInsert {
		name := fmt.Sprintf("user%02d", i)
		if i == 10 {
			name = "taken"
		}
		ops = append(ops, create(fmt.Sprintf("E%02d", i), name))
	}
	res, errs := tg.ApplyBulk(t.Context(), ops)
	for i, op := range ops {
		if i == 10 {
			if !errors.Is(errs[i], connectors.ErrExists) {
				t.Errorf("the conflicting create: error %v, want one that says it exists", errs[i])
			}
			continue
		}
		var key string
		if errs[i] != nil || tg.DB().QueryRow(`SELECT _key FROM users WHERE id = ?`, res[i].ID).Scan(&key) != nil || key != op.Key {
			t.Errorf("op %d (%s): error %v, id %q holds %q", i, op.Key, errs[i], res[i].ID, key)
		}
	}
}
