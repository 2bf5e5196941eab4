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
// committed, and ascending runs of keys with gaps, keys never created and
// keys out of order; each answer is checked against a plain map.
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
		var keys []string
		for i := range 2*n + 2 {
			if r.IntN(3) == 0 {
				keys = append(keys, fmt.Sprintf("K%05d", i)) // odd ones were never created
			}
		}
		if r.IntN(4) == 0 {
			r.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
		}
		from := 0
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

// TestMembershipsOfCreatesGoToTheirUsers applies a first sync with groups
// to a real SQLite target, whose memberships take the entries this apply's
// creates committed. The target, read by the source key it stores on each
// row, must put every user in its department's group and no other; state
// must link each key to its own row; and a second plan must find nothing
// to do.
func TestMembershipsOfCreatesGoToTheirUsers(t *testing.T) {
	var csv strings.Builder
	csv.WriteString("id,name,dept,level\n")
	depts := []string{"a", "b", "c"}
	want := map[string]string{} // key -> group
	for i := range 700 {        // more than one bulk of creates
		key := fmt.Sprintf("E%04d", (i*37)%700)
		fmt.Fprintf(&csv, "%s,N%d,%s,1\n", key, i, depts[i%3])
		want[key] = depts[i%3]
	}
	cfg := strings.Replace(smallConfig, "    match: login\n", "    groups: '[user.dept]'\n", 1)
	f := newFixture(t, map[string]string{"idsync.yaml": cfg, "day1.csv": csv.String()})
	_, rep := f.apply(nil, ApplyOptions{})
	if got := rep.Targets[0].Applied[connectors.AddMember]; got != 700 {
		t.Fatalf("applied %d memberships, want 700", got)
	}
	db, err := sql.Open("sqlite", filepath.Join(f.dir, "dir.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT u._key, u.id, g.name FROM users u
		LEFT JOIN users_group_members m ON m.user_id = u.id LEFT JOIN users_groups g ON g.id = m.group_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]string{}
	for rows.Next() {
		var key, id string
		var group sql.NullString
		if err := rows.Scan(&key, &id, &group); err != nil {
			t.Fatal(err)
		}
		if _, twice := got[key]; twice {
			t.Errorf("%s is in two groups", key)
		}
		got[key] = group.String
		if en, ok, err := f.store.Get("dir", key); err != nil || !ok || en.ID != id {
			t.Errorf("state links %s to %q (%v, %v); its row is %s", key, en.ID, ok, err, id)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("groups by source key (-want +got):\n%s", d)
	}
	if ops := opList(f.plan(nil)); len(ops) != 0 {
		t.Errorf("second plan: %d ops, want none: %v", len(ops), ops[:min(len(ops), 5)])
	}
}
