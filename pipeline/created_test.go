package pipeline

import (
	"database/sql"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/idsync/idsync/connectors"
	"github.com/idsync/idsync/pipeline/plan"
	"github.com/idsync/idsync/snapshots"
)

// TestCreatedIndexFindsWhatWasSet: random create ranks, some creates not
// committed, some entries rewritten or forgotten by later commits, and
// ascending runs of keys with gaps, keys never created and keys out of
// order; each answer is checked against a plain map.
func TestCreatedIndexFindsWhatWasSet(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 9))
	for round := range 200 {
		n := r.IntN(300)
		var ops []plan.Op
		for i := range n {
			ops = append(ops, plan.Op{Op: connectors.Op{Action: connectors.Create, Key: fmt.Sprintf("K%05d", 2*i)}})
		}
		c := newCreatedIndex(ops)
		want := map[string]snapshots.Entry{}
		for i, op := range ops {
			if r.IntN(5) == 0 {
				continue // its create failed
			}
			en := snapshots.Entry{Key: op.Key, ID: fmt.Sprint("id", i), Disabled: r.IntN(2) == 0, Hash: r.Uint64(), Since: r.Int64()}
			c.set(i, en)
			want[op.Key] = en
		}
		// Later commits: some rewrite their entry (in ascending runs, as a
		// bulk's do), some forget it; neither brings back a failed create.
		from := 0
		for i, op := range ops {
			switch r.IntN(6) {
			case 0:
				en := snapshots.Entry{Key: op.Key, ID: fmt.Sprint("id", i), Hash: r.Uint64(), Since: int64(i)}
				from = c.rewrite(en, from)
				if _, ok := want[op.Key]; ok {
					want[op.Key] = en
				}
			case 1:
				c.forget(op.Key)
				delete(want, op.Key)
			}
		}
		var keys []string
		for i := range 2*n + 2 {
			if r.IntN(3) == 0 {
				keys = append(keys, fmt.Sprintf("K%05d", i)) // odd ones were never created
			}
		}
		if r.IntN(4) == 0 {
			r.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
		}
		from = 0
		for _, k := range keys {
			got, next, ok := c.find(k, from)
			w, in := want[k]
			switch {
			case ok && (!in || !cmp.Equal(got, w)):
				t.Fatalf("round %d: find(%s, %d) = %+v, want %+v (created: %v)", round, k, from, got, w, in)
			case !ok && in && slices.IsSorted(keys):
				t.Fatalf("round %d: find(%s, %d) missed it in ascending keys", round, k, from)
			}
			from = next
		}
	}
}

// createdConfig is a SQLite target with groups and, in one variant, a
// reference: each create then gets an update a rank later, between the
// creates and the memberships.
const createdConfig = `state: state
sources:
  hr:
    type: csv
    path: day1.csv
    key: id
    schema: {id: string, name: string, dept: string, mgr: string}
targets:
  dir:
    type: sqlite
    path: dir.db
    source: hr
    groups: '[user.dept]'
REFS    attributes:
      login: 'lowerAscii(user.id)'
      name: user.name
`

// TestMembershipsOfCreatesGoToTheirUsers applies a first sync with groups
// to a real SQLite target, whose memberships take the entries this apply's
// creates (and, with references, their updates) committed. The target,
// read by the source key it stores on each row, must put every user in
// its department's group and no other and point each manager reference at
// the manager's row; state must link each key to its own row; and a
// second plan must find nothing to do.
func TestMembershipsOfCreatesGoToTheirUsers(t *testing.T) {
	for _, refs := range []bool{false, true} {
		t.Run(fmt.Sprint("references=", refs), func(t *testing.T) {
			var csv strings.Builder
			csv.WriteString("id,name,dept,mgr\n")
			depts := []string{"a", "b", "c"}
			wantGroup, wantMgr := map[string]string{}, map[string]string{}
			for i := range 700 { // more than one bulk of creates
				key, mgr := fmt.Sprintf("E%04d", (i*37)%700), fmt.Sprintf("E%04d", (i*11)%700)
				fmt.Fprintf(&csv, "%s,N%d,%s,%s\n", key, i, depts[i%3], mgr)
				wantGroup[key], wantMgr[key] = depts[i%3], mgr
			}
			cfg := strings.Replace(createdConfig, "REFS", "", 1)
			if refs {
				cfg = strings.Replace(createdConfig, "REFS", "    references: {manager: user.mgr}\n", 1)
			}
			f := newFixture(t, map[string]string{"idsync.yaml": cfg, "day1.csv": csv.String()})
			_, rep := f.apply(nil, ApplyOptions{})
			if got := rep.Targets[0].Applied[connectors.AddMember]; got != 700 {
				t.Fatalf("applied %d memberships, want 700", got)
			}
			got := targetRows(t, f)
			gotGroup, rowOf := map[string]string{}, map[string]string{}
			for _, r := range got {
				if _, twice := gotGroup[r.key]; twice {
					t.Errorf("%s is in two groups", r.key)
				}
				gotGroup[r.key], rowOf[r.key] = r.group, r.id
				if en, ok, err := f.store.Get("dir", r.key); err != nil || !ok || en.ID != r.id {
					t.Errorf("state links %s to %q (%v, %v); its row is %s", r.key, en.ID, ok, err, r.id)
				}
			}
			if d := cmp.Diff(wantGroup, gotGroup); d != "" {
				t.Errorf("groups by source key (-want +got):\n%s", d)
			}
			for _, r := range got {
				if want := rowOf[wantMgr[r.key]]; refs && r.manager != want {
					t.Errorf("%s: manager row %q, want %q (%s)", r.key, r.manager, want, wantMgr[r.key])
				}
			}
			if ops := opList(f.plan(nil)); len(ops) != 0 {
				t.Errorf("second plan: %d ops, want none: %v", len(ops), ops[:min(len(ops), 5)])
			}
		})
	}
}

type targetRow struct{ key, id, group, manager string }

// targetRows reads every user row of the fixture's SQLite target with its
// group (none: "") and manager column (none: "").
func targetRows(t *testing.T, f *fixture) []targetRow {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(f.dir, "dir.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	manager := "NULL"
	if err := db.QueryRow(`SELECT 1 FROM pragma_table_info('users') WHERE name = 'manager'`).Scan(new(int)); err == nil {
		manager = "u.manager"
	}
	rows, err := db.Query(`SELECT u._key, u.id, COALESCE(g.name, ''), COALESCE(` + manager + `, '') FROM users u
		LEFT JOIN users_group_members m ON m.user_id = u.id LEFT JOIN users_groups g ON g.id = m.group_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []targetRow
	for rows.Next() {
		var r targetRow
		if err := rows.Scan(&r.key, &r.id, &r.group, &r.manager); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
