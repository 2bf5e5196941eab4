package pipeline

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/idsync/idsync/bench/population"
	"github.com/idsync/idsync/pipeline/plan"
)

// oracleConfig exercises every kind of op a delta can cause. Its rules do
// not read the clock, and every manager is in scope, so no reference is
// left deferred: either would make the next run full, and the oracle is
// about deltas. (Leavers are disabled by the enabled rule instead.)
const oracleConfig = `state: state
sources:
  hr:
    type: csv
    path: ${env:HR}
    read: delta
    delta: ${env:DELTA:-none.csv}
    key: employeeId
    schema: {employeeId: string, givenName: string, surname: string, department: string, title: string,
             managerId: string, status: string, hireDate: timestamp, country: string}
targets:
  dir:
    type: sqlite
    path: dir.db
    source: hr
    enabled: 'user.status == "Active"'
    groups: '[user.department, "All " + user.country]'
    references: {manager: user.managerId}
    deleteAfter: 30d
    attributes:
      userName: lowerAscii(user.employeeId)
      displayName: 'user.givenName + " " + user.surname'
      title: user.title
      department: user.department
`

var oracleDay = time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC)

// oracleCase is one generated population and change set.
type oracleCase struct {
	seed    uint64
	n       int
	changes population.Changes
	removed int
}

// files writes S0, S1 and the delta from S0 to S1: changed and new rows,
// plus a tombstone for every removed record.
func (c oracleCase) files() map[string]string {
	s0 := population.Generate(population.Options{N: c.n, Seed: c.seed, Today: oracleDay})
	s1 := population.Change(s0, c.changes, c.seed+1, oracleDay)
	r := rand.New(rand.NewPCG(c.seed, 3))
	for range min(c.removed, len(s1)-1) {
		i := 1 + r.IntN(len(s1)-1)
		s1 = slices.Delete(s1, i, i+1)
	}
	before := map[string]population.Person{}
	for _, p := range s0 {
		before[p.EmployeeID] = p
	}
	var delta bytes.Buffer
	w := csv.NewWriter(&delta)
	_ = w.Write(append(slices.Clone(population.Header), "_deleted"))
	for _, p := range s1 {
		if old, ok := before[p.EmployeeID]; !ok || old != p {
			_ = w.Write([]string{p.EmployeeID, p.GivenName, p.Surname, p.Department, p.Title, p.ManagerID, p.Status, p.HireDate, p.Country, "false"})
		}
		delete(before, p.EmployeeID)
	}
	gone := slices.Sorted(func(yield func(string) bool) {
		for k := range before {
			if !yield(k) {
				return
			}
		}
	})
	for _, k := range gone {
		_ = w.Write([]string{k, "", "", "", "", "", "", "", "", "true"})
	}
	w.Flush()
	var b0, b1 bytes.Buffer
	_ = population.WriteCSV(&b0, s0)
	_ = population.WriteCSV(&b1, s1)
	return map[string]string{"idsync.yaml": oracleConfig, "s0.csv": b0.String(), "s1.csv": b1.String(), "delta.csv": delta.String()}
}

// comparable renders ops without reasons: a delta says "tombstone" where a
// full read says "absent-from-full", and that is the only allowed difference.
func comparable(p *plan.Plan) []string {
	var out []string
	for _, t := range p.Targets {
		for _, op := range t.Ops {
			out = append(out, fmt.Sprintf("%s %s %s %s %s %v %v", op.Action, op.Object, op.Key, op.Group, op.ID(), op.Disabled, op.Changes()))
		}
	}
	return out
}

// checkOracle asserts full(S0→S1) and delta(S0→S1) plan the same ops.
func checkOracle(t testing.TB, c oracleCase) {
	files := c.files()
	var plans [2]*plan.Plan
	for i, full := range []bool{true, false} {
		f := newFixture(t, files)
		f.apply(map[string]string{"HR": "s0.csv"}, ApplyOptions{AllowDeletes: true})
		e := f.engine(map[string]string{"HR": "s1.csv", "DELTA": "delta.csv"})
		p, err := e.Plan(t.Context(), PlanOptions{Full: full})
		if err != nil {
			t.Fatal(err)
		}
		if p.Sources[0].Full != full {
			t.Fatalf("read full = %v, want %v", p.Sources[0].Full, full)
		}
		plans[i] = p
	}
	full, delta := comparable(plans[0]), comparable(plans[1])
	if diff := cmp.Diff(full, delta); diff != "" {
		t.Errorf("seed %d: full and delta plans differ (-full +delta):\n%s", c.seed, diff)
	}
	if len(full) == 0 && c.changes != (population.Changes{}) {
		t.Errorf("seed %d: the change set produced no ops; the case tests nothing", c.seed)
	}
}

func TestFullAndDeltaPlansAgree(t *testing.T) {
	for _, c := range oracleSeeds {
		t.Run(fmt.Sprint(c.seed), func(t *testing.T) { checkOracle(t, c) })
	}
}

var oracleSeeds = []oracleCase{
	// The quickstart's shape: 1,000 people and hr-day2.csv's change counts.
	{seed: 7, n: 1000, changes: population.Changes{Hires: 15, Moves: 10, Renames: 5, ManagerChanges: 10, Terminations: 8, Rehires: 1}, removed: 3},
	{seed: 1, n: 300, changes: population.Changes{Hires: 10, Moves: 10, Renames: 5, ManagerChanges: 10, Terminations: 6, Rehires: 2}, removed: 5},
	{seed: 2, n: 150, changes: population.Changes{Hires: 3, Moves: 30}, removed: 20},
	{seed: 3, n: 80, changes: population.Changes{Terminations: 10, Rehires: 3}},
}

// FuzzFullDeltaOracle explores populations and change sets beyond the
// seeds above. CI runs the seeds only.
func FuzzFullDeltaOracle(f *testing.F) {
	for _, c := range oracleSeeds {
		ch := c.changes
		f.Add(c.seed, uint8(c.n/10), uint8(ch.Hires), uint8(ch.Moves), uint8(ch.Renames), uint8(ch.ManagerChanges), uint8(ch.Terminations), uint8(ch.Rehires), uint8(c.removed))
	}
	f.Fuzz(func(t *testing.T, seed uint64, tens, hires, moves, renames, managers, terms, rehires, removed uint8) {
		c := oracleCase{seed: seed, n: 10 + int(tens%40)*10, removed: int(removed % 50), changes: population.Changes{
			Hires: int(hires % 50), Moves: int(moves % 50), Renames: int(renames % 50), ManagerChanges: int(managers % 50),
			Terminations: int(terms % 50), Rehires: int(rehires % 10)}}
		checkOracle(t, c)
	})
}
