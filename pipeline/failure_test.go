package pipeline

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/idsync/idsync/connectors"
	"github.com/idsync/idsync/connectors/scim/scimtest"
	"github.com/idsync/idsync/pipeline/plan"
)

// planAt plans with the clock at now.
func (f *fixture) planAt(env map[string]string, now time.Time) *Engine {
	f.t.Helper()
	e := f.engine(env)
	e.opts.Now = now
	return e
}

func TestEscrowHoldsRetriesAndClears(t *testing.T) {
	s := scimtest.StartStrict(t)
	f, day1, _ := scimFixture(t, s, 6, "")
	s.Inject(scimtest.Fault{Status: 400, Method: "POST", Path: "/Users"})
	_, rep := applyAllowingFailures(t, f)
	if rep.Targets[0].Escrowed == 0 {
		t.Fatalf("nothing was escrowed after a 400: %+v", rep.Targets[0])
	}
	failedKey := ""
	for _, fl := range rep.Targets[0].Failed {
		if strings.Contains(fl.Err.Error(), "HTTP 400") {
			failedKey = fl.Op.Key
		}
	}
	// Right after: the op is held, not sent again.
	p, err := f.planAt(nil, testNow).Plan(t.Context(), PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := escrowedKeys(p.Targets[0].Escrowed); !cmp.Equal(got, []string{failedKey}) {
		t.Fatalf("escrowed = %v, want [%s]", got, failedKey)
	}
	for _, op := range p.Targets[0].Ops {
		if op.Key == failedKey {
			t.Errorf("op %s %s is planned though its retry time has not come", op.Action, op.Key)
		}
	}
	// Dropped, it stays held however late; released, it is due at once.
	e := f.planAt(nil, testNow)
	if ok, err := e.DropEscrow("app", failedKey); !ok || err != nil {
		t.Fatalf("drop: %v %v", ok, err)
	}
	p, _ = f.planAt(nil, testNow.Add(48*time.Hour)).Plan(t.Context(), PlanOptions{})
	if len(p.Targets[0].Escrowed) != 1 || !p.Targets[0].Escrowed[0].Dropped {
		t.Fatalf("after drop: escrowed %+v, want it held as dropped", p.Targets[0].Escrowed)
	}
	if ok, err := f.planAt(nil, testNow).ReleaseEscrow("app", failedKey); !ok || err != nil {
		t.Fatalf("release: %v %v", ok, err)
	}
	e = f.planAt(nil, testNow.Add(time.Minute))
	p, err = e.Plan(t.Context(), PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !cmp.Equal(p.Targets[0].Retrying, []string{failedKey}) {
		t.Fatalf("retrying = %v, want [%s]", p.Targets[0].Retrying, failedKey)
	}
	if rep, err := e.Apply(t.Context(), p, ApplyOptions{}); err != nil || rep.Failed() != 0 {
		t.Fatalf("retry apply: %v, %d failed", err, rep.Failed())
	}
	list, _ := e.Escrow("app")
	if len(list) != 0 {
		t.Errorf("escrow after a successful retry: %+v, want empty", list)
	}
	checkServer(t, s, day1)
}

func escrowedKeys(es []plan.Escrowed) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Key)
	}
	return out
}

func TestQuarantineStopsAFailingTargetAndOthersGoOn(t *testing.T) {
	s := scimtest.StartStrict(t)
	cfg := scimConfig(s, "") + `
  log:
    type: jsonl
    path: log.jsonl
    source: hr
    attributes: {id: user.employeeId}
`
	f, day1, _ := scimFixture(t, s, 60, "")
	f.write(map[string]string{"idsync.yaml": cfg})
	for range 40 { // the app refuses everything: a broken deployment
		s.Inject(scimtest.Fault{Status: 400, Method: "POST", Path: "/Users"})
	}
	_, rep := applyAllowingFailures(t, f)
	app, log := rep.Targets[0], rep.Targets[1]
	if app.Name != "app" || !strings.Contains(app.Quarantined, "ops failed") {
		t.Fatalf("app: quarantined %q, want a quarantine after most ops failed", app.Quarantined)
	}
	if len(app.Failed) >= 40 {
		t.Errorf("%d ops failed: the target was not left alone after the threshold", len(app.Failed))
	}
	if log.Name != "log" || log.Applied[connectors.Create] != len(day1) || len(log.Failed) != 0 {
		t.Errorf("the healthy target: %d created, %d failed; want all %d created", log.Applied[connectors.Create], len(log.Failed), len(day1))
	}
	// Until the quarantine ends, the target is not planned; others are.
	p, err := f.planAt(nil, testNow.Add(time.Minute)).Plan(t.Context(), PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Targets[0].Name != "app" || !strings.HasPrefix(p.Targets[0].Skipped, "quarantined until") {
		t.Errorf("%s during quarantine: skipped %q", p.Targets[0].Name, p.Targets[0].Skipped)
	}
	s.ClearFaults() // the app is fixed
	// After it, the next run probes; the app works again, so it is lifted.
	e := f.planAt(nil, testNow.Add(time.Hour))
	p, err = e.Plan(t.Context(), PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Targets[0].Skipped != "" {
		t.Fatalf("after the quarantine: skipped %q", p.Targets[0].Skipped)
	}
	if rep, err := e.Apply(t.Context(), p, ApplyOptions{}); err != nil || rep.Failed() != 0 {
		t.Fatalf("probe apply: %v, %d failed", err, rep.Failed())
	}
	if _, ok, _ := f.store.Quarantine("app"); ok {
		t.Errorf("the quarantine was not lifted after a clean run")
	}
	checkServer(t, s, day1)
}
