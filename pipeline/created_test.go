package pipeline

import (
	"fmt"
	"math/rand/v2"
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
// order; each answer of find, and of id, is checked against a plain map.
func TestCreatedIndexFindsWhatWasSet(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 9))
	for round := range 200 {
		n := r.IntN(300)
		c, want, ids := randomCreatedIndex(r, n)
		keys := keysToFind(r, n)
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
			if id, ok := c.id(k); id != ids[k] || ok != (ids[k] != "") {
				t.Fatalf("round %d: id(%s) = %q, %v; want %q", round, k, id, ok, ids[k])
			}
		}
	}
}

// randomCreatedIndex is the created index of a rank of n creates (keys
// K00000, K00002, ...), with what find must answer for each key (want) and
// what id must (ids). A fifth of the creates fail; of the rest, later
// commits rewrite some entries, in ascending runs as a bulk's do, and
// forget others. Neither brings back a failed create, and forgetting does
// not change an id.
func randomCreatedIndex(r *rand.Rand, n int) (c *createdIndex, want map[string]snapshots.Entry, ids map[string]string) {
	var ops []plan.Op
	for i := range n {
		ops = append(ops, plan.NewOp(connectors.Op{Action: connectors.Create, Key: fmt.Sprintf("K%05d", 2*i)}, nil))
	}
	c, want, ids = newCreatedIndex(ops), map[string]snapshots.Entry{}, map[string]string{}
	for i, op := range ops {
		if r.IntN(5) == 0 {
			continue // its create failed
		}
		en := snapshots.Entry{Key: op.Key, ID: fmt.Sprint("id", i), Disabled: r.IntN(2) == 0, Hash: r.Uint64(), Since: r.Int64()}
		c.set(i, en)
		want[op.Key], ids[op.Key] = en, en.ID
	}
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
	return c, want, ids
}

// keysToFind is a third of the keys up to 2n+2, created ones and odd ones
// never created, in ascending order or, one time in four, shuffled.
func keysToFind(r *rand.Rand, n int) []string {
	var keys []string
	for i := range 2*n + 2 {
		if r.IntN(3) == 0 {
			keys = append(keys, fmt.Sprintf("K%05d", i))
		}
	}
	if r.IntN(4) == 0 {
		r.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	}
	return keys
}

// createdConfig is a SQLite target with groups and a manager: a plain
// copy, or a reference (REFS), which gives each create an update a rank
// later, between the creates and the memberships.
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
MANAGER`

// TestMembershipsOfCreatesGoToTheirUsers applies a first sync with groups
// to a real SQLite target, whose memberships take the entries this apply's
// creates (and, with references, their updates) committed. The target,
// read by the source keys its rows carry (sqliteRows), must hold each
// user in its department's group and no other, with its manager's key
// where the manager is a reference; and a second plan must find nothing
// to do.
func TestMembershipsOfCreatesGoToTheirUsers(t *testing.T) {
	for _, refs := range []bool{false, true} {
		t.Run(fmt.Sprint("references=", refs), func(t *testing.T) {
			var csv strings.Builder
			csv.WriteString("id,name,dept,mgr\n")
			depts := []string{"a", "b", "c"}
			var users, members []string
			for i := range 700 { // more than one bulk of creates
				key, mgr := fmt.Sprintf("E%04d", (i*37)%700), fmt.Sprintf("E%04d", (i*11)%700)
				fmt.Fprintf(&csv, "%s,N%d,%s,%s\n", key, i, depts[i%3], mgr)
				if !refs {
					mgr = "-" // a plain copy is no row's id
				}
				users = append(users, fmt.Sprintf("%s %s N%d 0 %s", key, strings.ToLower(key), i, mgr))
				members = append(members, depts[i%3]+" "+key)
			}
			slices.Sort(users)
			slices.Sort(members)
			cfg := strings.Replace(createdConfig, "REFS", "", 1)
			cfg = strings.Replace(cfg, "MANAGER", "      manager: user.mgr\n", 1)
			if refs {
				cfg = strings.Replace(createdConfig, "REFS", "    references: {manager: user.mgr}\n", 1)
				cfg = strings.Replace(cfg, "MANAGER", "", 1)
			}
			f := newFixture(t, map[string]string{"idsync.yaml": cfg, "day1.csv": csv.String()})
			_, rep := f.apply(nil, ApplyOptions{})
			if got := rep.Targets[0].Applied[connectors.AddMember]; got != 700 {
				t.Fatalf("applied %d memberships, want 700", got)
			}
			if d := cmp.Diff(append(users, members...), sqliteRows(t, f.dir)); d != "" {
				t.Errorf("target by source key (-want +got):\n%s", d)
			}
			if ops := opList(f.plan(nil)); len(ops) != 0 {
				t.Errorf("second plan: %d ops, want none: %v", len(ops), ops[:min(len(ops), 5)])
			}
		})
	}
}
