package pipeline

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/idsync/idsync/connectors"
	"github.com/idsync/idsync/pipeline/config"
	"github.com/idsync/idsync/pipeline/diff"
	"github.com/idsync/idsync/pipeline/plan"
	"github.com/idsync/idsync/snapshots"
)

const wavesConfig = `state: state
sources:
  hr:
    type: csv
    path: ${env:HR:-hr.csv}
    read: delta
    delta: ${env:DELTA:-none.csv}
    key: id
    schema: {id: string, name: string, dept: string, status: string, mgr: string}
targets:
  dir:
    type: sqlite
    path: dir.db
    source: hr
    opsPerRun: %d
    scope: 'user.status != "gone"'
    groups: '[user.dept]'
    safety: {maxDeletes: 1000}
    attributes:
      login: 'lowerAscii(user.id)'
      name: user.name
    references:
      manager: user.mgr
`

// wavesCSV is n records, each managed by the one 7 rows on; changed
// edits some names, gone marks some leavers, and extra adds hires.
func wavesCSV(n int, changed, gone map[int]bool, extra int) string {
	var b strings.Builder
	b.WriteString("id,name,dept,status,mgr\n")
	for i := range n + extra {
		name, status := fmt.Sprintf("Name%d", i), "active"
		if changed[i] {
			name += "x"
		}
		if gone[i] {
			status = "gone"
		}
		// Managers come later in the file, so most references cross waves.
		fmt.Fprintf(&b, "E%02d,%s,d%d,%s,E%02d\n", i, name, i%3, status, (i+7)%n)
	}
	return b.String()
}

// TestWavesEndWhereOneRunWould checks opsPerRun: a plan holds about that
// many ops and leaves the other records for the next wave; records that
// wait are never taken for absent (no disable for them); and applying
// wave after wave ends with the target exactly as one unbounded run
// leaves it, manager references included, on a first load and on a day of
// changes, hires and leavers.
func TestWavesEndWhereOneRunWould(t *testing.T) {
	const limit = 5
	// The source is read in delta unless a run left work undone: records
	// waiting for a wave must make the next run read it in full.
	noDelta := "id,name,dept,status,mgr\n"
	waved := newFixture(t, map[string]string{"idsync.yaml": fmt.Sprintf(wavesConfig, limit), "none.csv": noDelta})
	whole := newFixture(t, map[string]string{"idsync.yaml": fmt.Sprintf(wavesConfig, 0), "none.csv": noDelta})

	changed, gone := map[int]bool{1: true, 4: true, 8: true, 15: true, 22: true}, map[int]bool{2: true, 9: true, 20: true}
	day2 := wavesCSV(23, changed, gone, 6)
	// Day 2's delta: the changed records, the leavers and the hires.
	delta := []string{"id,name,dept,status,mgr"}
	for i, line := range strings.Split(strings.TrimSpace(day2), "\n")[1:] {
		if changed[i] || gone[i] || i >= 23 {
			delta = append(delta, line)
		}
	}
	days := []struct {
		csv, delta string
		disables   int
	}{
		{wavesCSV(23, nil, nil, 0), "", 0},
		{day2, strings.Join(delta, "\n") + "\n", 3},
	}
	for day, d := range days {
		files := map[string]string{"hr.csv": d.csv, "delta.csv": d.delta}
		waved.write(files)
		whole.write(files)
		env := map[string]string{}
		if d.delta != "" {
			env["DELTA"] = "delta.csv"
		}
		if _, rep := whole.apply(env, ApplyOptions{}); rep.Waiting() != 0 {
			t.Fatalf("day %d: an unbounded plan left %d records waiting", day, rep.Waiting())
		}
		waves, disables := 0, 0
		for {
			waves++
			if waves > 20 {
				t.Fatalf("day %d: still waiting after 20 waves", day)
			}
			p, rep := waved.apply(env, ApplyOptions{})
			ops := p.Targets[0].Ops
			// A record's ops all go in one wave: the last record in may
			// take it past the limit by its own ops (a create, a
			// membership and its manager here). Updates of references
			// only have a budget of their own; group creates come on top.
			users, refs := 0, 0
			for _, op := range ops {
				switch {
				case op.Action == connectors.Update && len(op.Changes()) == 1 && op.Changes()[0].Attr == "manager":
					refs++
				case op.Object == connectors.User:
					users++
				}
			}
			if w := p.Targets[0].Waiting; w > 0 && (users+refs < limit || users > limit+2 || refs > 2*limit+2) {
				t.Errorf("day %d wave %d: %d user ops and %d reference updates planned with %d waiting; want at least %d, and at most %d and %d",
					day, waves, users, refs, w, limit, limit+2, 2*limit+2)
			}
			for _, op := range ops {
				if op.Action == connectors.Disable || op.Action == connectors.Delete {
					disables++
				}
			}
			if rep.Waiting() == 0 {
				break
			}
		}
		if waves < 3 {
			t.Errorf("day %d: %d wave(s); the test needs several", day, waves)
		}
		if disables != d.disables {
			t.Errorf("day %d: %d disables over the waves, want %d: a waiting record was taken for absent", day, disables, d.disables)
		}
		if diff := cmp.Diff(sqliteRows(t, whole.dir), sqliteRows(t, waved.dir)); diff != "" {
			t.Errorf("day %d: target after waves differs from one run (-one run +waves):\n%s", day, diff)
		}
		if ops := opList(waved.plan(env)); len(ops) != 0 {
			t.Errorf("day %d: after the last wave a plan still has %v", day, ops)
		}
	}
}

// sqliteRows is what a sqlite target holds: users and memberships by
// source key (ids differ with the order rows were created in).
func sqliteRows(t *testing.T, dir string) []string {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(dir, "dir.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var out []string
	for _, q := range []string{
		`SELECT u._key || ' ' || u.login || ' ' || u.name || ' ' || u._disabled || ' ' || COALESCE(m._key, '-')
		 FROM users u LEFT JOIN users m ON m.id = CAST(u.manager AS INTEGER) ORDER BY u._key`,
		`SELECT g.name || ' ' || u._key FROM users_group_members m JOIN users_groups g ON g.id = m.group_id JOIN users u ON u.id = m.user_id ORDER BY 1`,
	} {
		rows, err := db.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			out = append(out, s)
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if len(out) == 0 {
		t.Fatal("the target is empty")
	}
	return out
}

// TestWaveBoundCountsWorkNotGuesses drives applyRow directly: updates of
// references to identities with no object count against their own budget,
// not opsPerRun; past that budget a record's references are deferred
// without being planned; a reference to a managed identity is work and
// counts; and once opsPerRun ops are counted, later records wait.
func TestWaveBoundCountsWorkNotGuesses(t *testing.T) {
	st := memoryStore(t)
	if err := st.Commit("dir", snapshots.Change{Entry: snapshots.Entry{Key: "BOSS", ID: "1"}}); err != nil {
		t.Fatal(err)
	}
	const limit = 3
	tr := &targetRun{t: &target{cfg: &config.Target{Name: "dir", OpsPerRun: limit},
		policy: diff.Policy{Attrs: []diff.AttrPolicy{{Name: "name"}, {Name: "manager", Reference: true}}}},
		out: &plan.Target{Managed: 1}, failed: map[string]bool{}}
	e := &Engine{store: st}
	sr := fullRun()
	if err := e.loadIndexes(sr, []*targetRun{tr}); err != nil {
		t.Fatal(err)
	}
	ref := func(key, to string) *rowResult {
		return &rowResult{hash: 1, ops: []connectors.Op{{Action: connectors.Update, Key: key, ID: "x",
			Changes: []connectors.Change{{Attr: "manager", New: to}}}}}
	}
	create := func(key string) *rowResult {
		return &rowResult{hash: 1, ops: []connectors.Op{{Action: connectors.Create, Key: key}}}
	}
	for i := range 5 {
		sr.applyRow(tr, fmt.Sprintf("G%d", i), ref(fmt.Sprintf("G%d", i), "NOBODY"))
	}
	if got := len(tr.out.Ops); got != limit || len(tr.out.Deferred) != 2 || tr.closed {
		t.Fatalf("5 guesses: %d planned, %d deferred, closed %v; want %d planned, 2 deferred, open", got, len(tr.out.Deferred), tr.closed, limit)
	}
	sr.applyRow(tr, "W1", ref("W1", "BOSS"))
	sr.applyRow(tr, "W2", create("W2"))
	if tr.closed {
		t.Fatal("closed after 2 counted ops")
	}
	sr.applyRow(tr, "W3", create("W3"))
	if !tr.closed || !tr.full.Load() {
		t.Fatal("still open after 3 counted ops")
	}
	sr.applyRow(tr, "W4", create("W4"))
	sr.applyRow(tr, "W5", nothing)
	sr.applyRow(tr, "W6", nil) // fingerprint matched: not waiting, just done
	if tr.out.Waiting != 2 {
		t.Errorf("%d records wait, want W4 and W5", tr.out.Waiting)
	}
	var keys []string
	for _, op := range tr.out.Ops {
		keys = append(keys, op.Key)
	}
	if diff := cmp.Diff([]string{"G0", "G1", "G2", "W1", "W2", "W3"}, keys); diff != "" {
		t.Errorf("planned (-want +got):\n%s", diff)
	}
}
