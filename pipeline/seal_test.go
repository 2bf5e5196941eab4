package pipeline

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/idsync/idsync/connectors"
	"github.com/idsync/idsync/connectors/scim/scimtest"
	"github.com/idsync/idsync/pipeline/plan"
	"github.com/idsync/idsync/snapshots"
)

// aheadConfig is the quickstart policy without its manager reference, so
// that each user's ops are a create and memberships: the creates carry
// the fingerprints ahead (see snapshots.Seal).
func aheadConfig(t *testing.T, s *scimtest.Server) string {
	cfg := scimConfig(s, "")
	ref := "    references:\n      " + enterprise + ":manager: user.managerId\n"
	if !strings.Contains(cfg, ref) {
		t.Fatal("the quickstart policy has no manager reference to take out")
	}
	return strings.Replace(cfg, ref, "", 1)
}

func TestFailedMembershipIsSentAgain(t *testing.T) {
	s := scimtest.StartStrict(t)
	f, _, _ := scimFixture(t, s, 40, "")
	f.write(map[string]string{"idsync.yaml": aheadConfig(t, s)})
	s.Inject(scimtest.Fault{Status: 400, Method: "PATCH"}) // one group's membership request
	_, rep := applyAllowingFailures(t, f)
	var failed []string
	for _, fl := range rep.Targets[0].Failed {
		if fl.Op.Action != connectors.AddMember {
			t.Fatalf("%s %s failed: only a membership was to fail", fl.Op.Action, fl.Op.Key)
		}
		failed = append(failed, fl.Op.Key)
	}
	if len(failed) == 0 || rep.Targets[0].Applied[connectors.AddMember] == 0 {
		t.Fatalf("%d memberships failed, %d applied: want one group's to fail, the others not", len(failed), rep.Targets[0].Applied[connectors.AddMember])
	}
	// Once their escrow is due, the failed memberships, and only they,
	// are planned again: their users' fingerprints, stored by the creates,
	// were cleared.
	later := testNow.Add(time.Hour)
	p, err := f.planAt(nil, later).Plan(t.Context(), PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var again []string
	for _, op := range p.Targets[0].Ops {
		if op.Action == connectors.AddMember {
			again = append(again, op.Key)
		} else if op.Object == connectors.User {
			t.Errorf("%s %s planned: only the failed memberships were to be", op.Action, op.Key)
		}
	}
	slices.Sort(failed)
	slices.Sort(again)
	if !slices.Equal(again, failed) {
		t.Fatalf("memberships planned again: %v, want the failed ones %v", again, failed)
	}
	if rep, err := f.planAt(nil, later).Apply(t.Context(), p, ApplyOptions{}); err != nil || rep.Failed() != 0 {
		t.Fatalf("second apply: %v, %d failed", err, rep.Failed())
	}
	checkGroups(t, s, s.Users())
	if p := f.plan(nil); len(p.Targets[0].Ops) != 0 {
		t.Errorf("after the second apply, %d ops planned: %v", len(p.Targets[0].Ops), opList(p))
	}
}

// An apply that stops between the creates and the memberships leaves the
// seal open; the next plan must send the memberships, though the creates
// stored their users' fingerprints.
func TestOpenSealDistrustsFingerprints(t *testing.T) {
	s := scimtest.StartStrict(t)
	f, _, _ := scimFixture(t, s, 20, "")
	f.write(map[string]string{"idsync.yaml": aheadConfig(t, s)})
	e := f.engine(nil)
	p, err := e.Plan(t.Context(), PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pt := p.Targets[0]
	if pt.Ahead != 20 {
		t.Fatalf("%d creates carry their fingerprint ahead, want all 20", pt.Ahead)
	}
	// The creates alone, as a run killed before the memberships left them.
	pt.Ops = slices.DeleteFunc(pt.Ops, func(op plan.Op) bool { return op.Action == connectors.AddMember })
	if rep, err := e.Apply(t.Context(), p, ApplyOptions{}); err != nil || rep.Failed() != 0 {
		t.Fatalf("apply: %v, %d failed", err, rep.Failed())
	}
	members := func(p *plan.Plan) int {
		n := 0
		for _, op := range p.Targets[0].Ops {
			if op.Action == connectors.AddMember {
				n++
			}
		}
		return n
	}
	// The danger: with the seal closed, those fingerprints are trusted.
	if n := members(f.plan(nil)); n != 0 {
		t.Fatalf("with the seal closed, %d memberships planned: the creates did not store fingerprints ahead", n)
	}
	if err := f.store.SetSeal("app", snapshots.Seal{Open: true}); err != nil {
		t.Fatal(err)
	}
	if n := members(f.plan(nil)); n != 20 {
		t.Fatalf("with the seal open, %d memberships planned, want 20", n)
	}
	f.apply(nil, ApplyOptions{})
	checkGroups(t, s, s.Users())
	if seal, err := f.store.Seal("app"); err != nil || seal != (snapshots.Seal{Epoch: 1}) {
		t.Errorf("seal after the apply: %+v, %v; want epoch 1, closed", seal, err)
	}
	if p := f.plan(nil); len(p.Targets[0].Ops) != 0 || len(p.Targets[0].Refresh) != 0 {
		t.Errorf("after it, %d ops and %d refreshes planned, want none", len(p.Targets[0].Ops), len(p.Targets[0].Refresh))
	}
}
