package pipeline

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/idsync/idsync/connectors"
	"github.com/idsync/idsync/pipeline/plan"
)

// TestRecoveryResolvesCreatesWithUnknownOutcome simulates a crash between
// sending creates and committing them: E1's create reached the target,
// E2's did not. The next plan links E1 and creates only E2.
func TestRecoveryResolvesCreatesWithUnknownOutcome(t *testing.T) {
	f := newFixture(t, map[string]string{"idsync.yaml": smallConfig, "day1.csv": smallDay1})
	e := f.engine(nil)
	p, err := e.Plan(t.Context(), PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tgt := e.c.sources[0].targets[0]
	conn, err := e.target(t.Context(), tgt)
	if err != nil {
		t.Fatal(err)
	}
	var creates []plan.Op
	for _, op := range p.Targets[0].Ops {
		if op.Action == connectors.Create && op.Key != "E3" {
			creates = append(creates, op)
		}
	}
	for _, op := range creates {
		if err := e.journal("dir", op); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := conn.Apply(t.Context(), creates[0].Op); err != nil { // E1 lands; the crash hits before commit
		t.Fatal(err)
	}
	e.Close()

	p = f.plan(nil)
	if diff := cmp.Diff([]string{"dir create E2 login,name,title", "dir create E3 login,name,title"}, opList(p)); diff != "" {
		t.Errorf("plan after recovery (-want +got):\n%s", diff)
	}
	if p.Targets[0].Managed != 1 {
		t.Errorf("managed = %d, want 1 (E1 linked by recovery)", p.Targets[0].Managed)
	}
	var left int
	if err := f.store.JournalScan("dir", func(string, []byte) error { left++; return nil }); err != nil || left != 0 {
		t.Errorf("journal records left: %d, %v", left, err)
	}
	f.apply(nil, ApplyOptions{})
	if ops := opList(f.plan(nil)); len(ops) != 0 {
		t.Errorf("after apply: %v, want no ops", ops)
	}
}
