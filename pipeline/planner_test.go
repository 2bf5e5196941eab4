package pipeline

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/idsync/idsync/connectors"
	"github.com/idsync/idsync/pipeline/plan"
)

const smallConfig = `state: state
sources:
  hr:
    type: csv
    path: ${env:HR:-day1.csv}
    key: id
    schema: {id: string, name: string, dept: string, level: int}
targets:
  dir:
    type: sqlite
    path: dir.db
    source: hr
    scope: 'user.dept != "gone"'
    match: login
    attributes:
      login: 'lowerAscii(user.id)'
      name: user.name
      title: '"L" + string(100 / user.level)'
`

const smallDay1 = "id,name,dept,level\nE1,Ann,a,1\nE2,Bo,b,2\nE3,Cy,c,4\n"

func rejectList(p *plan.Plan) []string {
	var out []string
	for _, r := range p.Rejects {
		s := r.Key + ": " + r.Reason
		if r.Rule != "" {
			s = r.Key + ": " + r.Target + "." + r.Rule + ": " + r.Reason
		}
		out = append(out, s)
	}
	return out
}

func TestDuplicateKeysQuarantineEveryCopyAndTouchNothing(t *testing.T) {
	f := newFixture(t, map[string]string{"idsync.yaml": smallConfig, "day1.csv": smallDay1,
		// E2 appears twice (one copy renamed); E3 once, changed.
		"day2.csv": "id,name,dept,level\nE1,Ann,a,1\nE2,Bob,b,2\nE3,Cyd,c,4\nE2,Bo,b,2\n"})
	f.apply(nil, ApplyOptions{})
	p := f.plan(map[string]string{"HR": "day2.csv"})
	if diff := cmp.Diff([]string{"dir update E3 name"}, opList(p)); diff != "" {
		t.Errorf("ops (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"E2: duplicate key on lines 3, 5; every copy quarantined"}, rejectList(p)); diff != "" {
		t.Errorf("rejects (-want +got):\n%s", diff)
	}
}

func TestRuleErrorQuarantinesOneRecordOnly(t *testing.T) {
	f := newFixture(t, map[string]string{"idsync.yaml": smallConfig, "day1.csv": smallDay1,
		"day2.csv": "id,name,dept,level\nE1,Ann,a,0\nE2,Bo,b,2\nE4,Di,d,5\n"})
	f.apply(nil, ApplyOptions{})
	// E1's level 0 divides by zero; E3 is absent; E4 is new.
	p := f.plan(map[string]string{"HR": "day2.csv"})
	if diff := cmp.Diff([]string{"dir create E4 login,name,title", "dir disable E3"}, opList(p)); diff != "" {
		t.Errorf("ops (-want +got):\n%s", diff)
	}
	want := []string{"E1: dir.attributes.title: division by zero"}
	if diff := cmp.Diff(want, rejectList(p)); diff != "" {
		t.Errorf("rejects (-want +got):\n%s", diff)
	}
	if p.Rejects[0].Line != 2 || !strings.HasSuffix(p.Rejects[0].File, "day2.csv") {
		t.Errorf("reject position = %s:%d, want day2.csv:2", p.Rejects[0].File, p.Rejects[0].Line)
	}
}

func TestUnchangedRecordsAreSkippedAndPolicyChangesReevaluate(t *testing.T) {
	f := newFixture(t, map[string]string{"idsync.yaml": smallConfig, "day1.csv": smallDay1})
	f.apply(nil, ApplyOptions{})
	if ops := opList(f.plan(nil)); len(ops) != 0 {
		t.Fatalf("rerun: %v, want no ops", ops)
	}
	// A column no attribute reads changes: no op, but the fingerprint is
	// refreshed so the next run skips the record again.
	f.write(map[string]string{"day1.csv": "id,name,dept,level\nE1,Ann,a2,1\nE2,Bo,b,2\nE3,Cy,c,4\n"})
	p, _ := f.apply(nil, ApplyOptions{})
	if len(opList(p)) != 0 || len(p.Targets[0].Refresh) != 1 || p.Targets[0].Refresh[0].Key != "E1" {
		t.Fatalf("column change: ops %v refresh %v; want no ops and E1 refreshed", opList(p), p.Targets[0].Refresh)
	}
	if p := f.plan(nil); len(p.Targets[0].Refresh) != 0 {
		t.Errorf("after refresh: %v still refreshed", p.Targets[0].Refresh)
	}
	// The policy changes: every record is evaluated again.
	f.write(map[string]string{"idsync.yaml": strings.Replace(smallConfig, "name: user.name", "name: 'user.name + \"!\"'", 1)})
	want := []string{"dir update E1 name", "dir update E2 name", "dir update E3 name"}
	if diff := cmp.Diff(want, opList(f.plan(nil))); diff != "" {
		t.Errorf("after a policy change (-want +got):\n%s", diff)
	}
}

// TestClockRulesReevaluateUnchangedRecords: a record whose bytes never
// change is skipped by its fingerprint, but not in a target whose rules
// read the clock: its start date arrives with no change to it.
func TestClockRulesReevaluateUnchangedRecords(t *testing.T) {
	cfg := strings.NewReplacer("level: int}", "level: int, start: timestamp}",
		"    match: login\n", "    match: login\n    enabled: 'user.start <= now'\n").Replace(smallConfig)
	start := testNow.Add(7 * 24 * time.Hour)
	f := newFixture(t, map[string]string{"idsync.yaml": cfg,
		"day1.csv": "id,name,dept,level,start\nE1,Ann,a,1,2024-01-01\nE2,Bo,b,2," + start.Format("2006-01-02") + "\n"})
	f.apply(nil, ApplyOptions{})
	if ops := f.planOps(nil, testNow.Add(time.Hour)); len(ops) != 0 {
		t.Fatalf("an hour later: %v, want no ops", ops)
	}
	if diff := cmp.Diff([]string{"dir enable E2"}, f.planOps(nil, start.Add(time.Hour))); diff != "" {
		t.Errorf("once E2's start date has come (-want +got):\n%s", diff)
	}
}

func TestUnreadableRecordsHoldDeprovisions(t *testing.T) {
	f := newFixture(t, map[string]string{"idsync.yaml": smallConfig, "day1.csv": smallDay1,
		// E3's line is broken beyond reading its key; E2 truly left scope.
		"day2.csv": "id,name,dept,level\nE1,Ann,a,1\nE2,Bo,gone,2\nE3\"x,\"Cy,c,4\n"})
	f.apply(nil, ApplyOptions{})
	p := f.plan(map[string]string{"HR": "day2.csv"})
	g := p.Targets[0].Guard
	if g == nil || g.Reason != "unreadable-records" || g.Count != 2 {
		t.Fatalf("guard = %+v, want unreadable-records holding 2", g)
	}
	_, rep := f.apply(map[string]string{"HR": "day2.csv"}, ApplyOptions{})
	if rep.Held() != 2 {
		t.Errorf("held = %d, want 2", rep.Held())
	}
}

func TestMatchNeverGuessesOrStealsAnObject(t *testing.T) {
	f := newFixture(t, map[string]string{"idsync.yaml": smallConfig, "day1.csv": smallDay1,
		// E9's login would be "e1": the object E1 already owns.
		"day2.csv": "id,name,dept,level\nE1,Ann,gone,1\nE2,Bo,b,2\nE3,Cy,c,4\ne1,Impostor,x,1\n"})
	f.apply(nil, ApplyOptions{})
	p := f.plan(map[string]string{"HR": "day2.csv"})
	if diff := cmp.Diff([]string{"dir disable E1"}, opList(p)); diff != "" {
		t.Errorf("ops (-want +got):\n%s", diff)
	}
	want := []string{"e1: dir.match: match conflict: object 1 (login=e1) is already linked to key E1"}
	if diff := cmp.Diff(want, rejectList(p)); diff != "" {
		t.Errorf("rejects (-want +got):\n%s", diff)
	}
}

func TestDriftedObjectIsRecreated(t *testing.T) {
	f := newFixture(t, map[string]string{"idsync.yaml": smallConfig, "day1.csv": smallDay1,
		"day2.csv": "id,name,dept,level\nE1,Ann,a,1\nE2,Bob,b,2\nE3,Cy,c,4\n"})
	f.apply(nil, ApplyOptions{})
	tg := f.engine(nil)
	conn, err := tg.target(t.Context(), tg.c.sources[0].targets[0])
	if err != nil {
		t.Fatal(err)
	}
	db := conn.(interface{ DB() *sql.DB }).DB()
	// Someone deletes E2's row behind idsync's back.
	if _, err := db.Exec(`DELETE FROM users WHERE login = 'e2'`); err != nil {
		t.Fatal(err)
	}
	tg.Close()
	_, rep := f.apply(map[string]string{"HR": "day2.csv"}, ApplyOptions{})
	if len(rep.Targets[0].Drift) != 1 || !strings.Contains(rep.Targets[0].Drift[0], "E2") {
		t.Fatalf("drift = %v, want E2 reported", rep.Targets[0].Drift)
	}
	// The update found nothing; the object was recreated in the same run,
	// with the new name, so nothing is left to do.
	if ops := opList(f.plan(map[string]string{"HR": "day2.csv"})); len(ops) != 0 {
		t.Errorf("next run: %v, want no ops", ops)
	}
	tg = f.engine(nil)
	conn, _ = tg.target(t.Context(), tg.c.sources[0].targets[0])
	var name string
	if err := conn.(interface{ DB() *sql.DB }).DB().QueryRow(`SELECT name FROM users WHERE login = 'e2'`).Scan(&name); err != nil || name != "Bob" {
		t.Errorf("recreated row: name %q, %v; want Bob", name, err)
	}
}

const uniqueConfig = `state: state
sources:
  hr:
    type: csv
    path: ${env:HR:-day1.csv}
    key: id
    schema: {id: string, given: string, sur: string}
targets:
  dir:
    type: sqlite
    path: dir.db
    source: hr
    attributes:
      login: 'selectUnique([lowerAscii(user.given + "." + user.sur), lowerAscii(user.given + "." + user.sur) + "2", lowerAscii(user.given.substring(0, 1) + user.sur)])'
`

func TestSelectUniquePicksFreeValuesDeterministically(t *testing.T) {
	day1 := "id,given,sur\nE2,John,Smith\nE1,John,Smith\nE3,Ann,Lee\n"
	// Reordered input, a third John Smith, a fourth who finds every
	// candidate taken, and E1 renamed while E2 keeps its value.
	day2 := "id,given,sur\nE4,John,Smith\nE3,Ann,Lee\nE2,John,Smith\nE1,Jon,Smith\nE5,John,Smith\n"
	f := newFixture(t, map[string]string{"idsync.yaml": uniqueConfig, "day1.csv": day1, "day2.csv": day2})
	p, _ := f.apply(nil, ApplyOptions{})
	want := []string{`E1 login=john.smith`, `E2 login=john.smith2`, `E3 login=ann.lee`}
	if diff := cmp.Diff(want, creates(p)); diff != "" {
		t.Errorf("day 1: two John Smiths in one run (-want +got):\n%s", diff)
	}
	p = f.plan(map[string]string{"HR": "day2.csv"})
	// E1 becomes jon.smith, freeing john.smith, which E4 (first by key) takes.
	wantOps := []string{"dir create E4 login", "dir update E1 login"}
	if diff := cmp.Diff(wantOps, opList(p)); diff != "" {
		t.Errorf("day 2 ops (-want +got):\n%s", diff)
	}
	if got := p.Targets[0].Ops[0].Changes()[0].New; got != "jsmith" {
		// john.smith is still held by E1's object until E1's update is
		// applied, so E4 gets the third candidate.
		t.Errorf("E4 login = %v, want jsmith", got)
	}
	want5 := []string{"E5: dir.attributes.login: no unique value free: john.smith, john.smith2, jsmith are all taken"}
	if diff := cmp.Diff(want5, rejectList(p)); diff != "" {
		t.Errorf("day 2 rejects (-want +got):\n%s", diff)
	}
}

// creates lists "key attr=value ..." for the plan's creates.
func creates(p *plan.Plan) []string {
	var out []string
	for _, op := range p.Targets[0].Ops {
		if op.Action == connectors.Create {
			s := op.Key
			for _, c := range op.Changes() {
				s += fmt.Sprintf(" %s=%v", c.Attr, c.New)
			}
			out = append(out, s)
		}
	}
	return out
}

func TestMembershipsAreSentInChunks(t *testing.T) {
	cfg := `state: state
sources:
  hr: {type: csv, path: hr.csv, key: id, schema: {id: string}}
targets:
  log:
    type: jsonl
    path: ops.jsonl
    source: hr
    attributes: {id: user.id}
    groups: '["All"]'
    membersPerRequest: 100
`
	var csv strings.Builder
	csv.WriteString("id\n")
	for i := range 250 {
		fmt.Fprintf(&csv, "E%03d\n", i)
	}
	f := newFixture(t, map[string]string{"idsync.yaml": cfg, "hr.csv": csv.String()})
	_, rep := f.apply(nil, ApplyOptions{})
	if got := rep.Targets[0].Applied[connectors.AddMember]; got != 250 {
		t.Errorf("applied add-member = %d, want 250", got)
	}
	data, err := os.ReadFile(filepath.Join(f.dir, "ops.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var sizes []int
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var rec struct {
			Action  string
			Members []string
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		if rec.Action == "add-member" {
			sizes = append(sizes, len(rec.Members))
		}
	}
	if diff := cmp.Diff([]int{100, 100, 50}, sizes); diff != "" {
		t.Errorf("members per request (-want +got):\n%s", diff)
	}
	if ops := opList(f.plan(nil)); len(ops) != 0 {
		t.Errorf("second run: %v, want no ops (membership is diffed as a set)", ops)
	}
}

// TestDeferredReferenceMakesTheNextRunFull: E2's manager E9 is not hired
// yet, so the reference waits; the next run reads in full although a delta
// is scheduled, and writes the reference once E9 exists.
func TestDeferredReferenceMakesTheNextRunFull(t *testing.T) {
	cfg := `state: state
sources:
  hr:
    type: csv
    path: ${env:HR:-day1.csv}
    read: delta
    delta: delta.csv
    key: id
    schema: {id: string, manager: string}
targets:
  dir:
    type: sqlite
    path: dir.db
    source: hr
    attributes: {login: user.id}
    references: {boss: user.manager}
`
	f := newFixture(t, map[string]string{"idsync.yaml": cfg, "day1.csv": "id,manager\nE1,\nE2,E9\n",
		"day2.csv": "id,manager\nE1,\nE2,E9\nE9,E1\n", "delta.csv": "id,manager,_deleted\nE9,E1,false\n"})
	p, _ := f.apply(nil, ApplyOptions{})
	if len(p.Targets[0].Deferred) != 1 {
		t.Fatalf("deferred = %v, want E2's manager", p.Targets[0].Deferred)
	}
	p, _ = f.apply(map[string]string{"HR": "day2.csv"}, ApplyOptions{})
	if !p.Sources[0].Full {
		t.Errorf("the run after a deferral read a delta; E2's record would never be seen again")
	}
	if diff := cmp.Diff([]string{"dir create E9 login", "dir update E2 boss", "dir update E9 boss"}, opList(p)); diff != "" {
		t.Errorf("ops (-want +got):\n%s", diff)
	}
	p = f.plan(map[string]string{"HR": "day2.csv"})
	if !cmp.Equal(opList(p), []string(nil)) || p.Sources[0].Full {
		t.Errorf("after the reference resolved: ops %v, full %v; want none, and a delta", opList(p), p.Sources[0].Full)
	}
}
