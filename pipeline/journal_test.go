package pipeline

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/idsync/idsync/connectors"
	"github.com/idsync/idsync/pipeline/plan"
)

// TestRecoveryResolvesCreatesWithUnknownOutcome simulates a crash between
// sending creates and committing them: E1's create reached the target,
// E2's did not. The next plan links E1 and creates only E2. The creates
// are journaled one record each, as single ops are, or as one batch, as a
// bulk's are, or both at once, as a bulk's failures are.
func TestRecoveryResolvesCreatesWithUnknownOutcome(t *testing.T) {
	for _, journal := range []string{"records", "batch", "both"} {
		t.Run(journal, func(t *testing.T) {
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
			if journal != "records" {
				if _, err := e.journalBatch("dir", creates); err != nil {
					t.Fatal(err)
				}
			}
			if journal != "batch" {
				if err := e.journal("dir", creates...); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := conn.Apply(t.Context(), creates[0].Op()); err != nil { // E1 lands; the crash hits before commit
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
		})
	}
}

// failingBulk refuses one key's ops inside the bulks of a real target.
type failingBulk struct {
	connectors.Target
	bulk connectors.BulkApplier
	key  string
}

func (f failingBulk) BulkSize() int { return f.bulk.BulkSize() }

func (f failingBulk) ApplyBulk(ctx context.Context, ops []connectors.Op) ([]connectors.Result, []error) {
	results, errs := make([]connectors.Result, len(ops)), make([]error, len(ops))
	var pass []connectors.Op
	var at []int
	for i, op := range ops {
		if op.Key == f.key {
			errs[i] = connectors.Terminal(nil, "refused by the test")
			continue
		}
		pass, at = append(pass, op), append(at, i)
	}
	r, e := f.bulk.ApplyBulk(ctx, pass)
	for j, i := range at {
		results[i], errs[i] = r[j], e[j]
	}
	return results, errs
}

// TestBulkJournalKeepsOnlyTheFailuresRecords: after a bulk in which one
// create failed, the journal holds that op alone, as its own record; the
// batch went with the successes' commit.
func TestBulkJournalKeepsOnlyTheFailuresRecords(t *testing.T) {
	f := newFixture(t, map[string]string{"idsync.yaml": smallConfig, "day1.csv": smallDay1})
	e := f.engine(nil)
	conn, err := e.target(t.Context(), e.c.sources[0].targets[0])
	if err != nil {
		t.Fatal(err)
	}
	e.targets["dir"] = failingBulk{conn, conn.(connectors.BulkApplier), "E2"}
	p, err := e.Plan(t.Context(), PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := e.Apply(t.Context(), p, ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Failed() != 1 || rep.Targets[0].Applied[connectors.Create] != 2 {
		t.Fatalf("applied %v, %d failed; want 2 creates and E2 failed", rep.Targets[0].Applied, rep.Failed())
	}
	var left []string
	err = f.store.JournalScan("dir", func(key string, _ []byte) error { left = append(left, key); return nil })
	if err != nil || !cmp.Equal(left, []string{"E2"}) {
		t.Errorf("journal after the apply: %v, %v; want [E2]", left, err)
	}
}
