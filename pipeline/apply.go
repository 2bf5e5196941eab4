package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/idsync/idsync/connectors"
	"github.com/idsync/idsync/pipeline/plan"
	"github.com/idsync/idsync/snapshots"
)

// ErrStalePlan: a saved plan no longer matches the state it was made from.
var ErrStalePlan = errors.New("state has changed since the plan was made; plan again")

// ApplyOptions configure Apply.
type ApplyOptions struct {
	// AllowDeletes applies destructive ops even when a guard holds them.
	AllowDeletes bool
	// CheckSerial refuses targets whose state moved since planning. Set it
	// when applying a saved plan.
	CheckSerial bool
	// Retries is how many times a retryable failure is retried. Defaults to 5.
	Retries int
	// Backoff is the first retry delay, doubled each time and jittered;
	// a longer Retry-After from the target wins. Defaults to 200ms.
	Backoff time.Duration
	// MaxBackoff caps one retry delay, Retry-After included. Defaults to 1m.
	MaxBackoff time.Duration
}

// Report is what Apply did.
type Report struct {
	Targets []*TargetReport
}

// TargetReport is what Apply did to one target.
type TargetReport struct {
	Name string
	// Applied counts successful user ops by action; AppliedGroups, group
	// creates and deletes.
	Applied       map[connectors.Action]int
	AppliedGroups map[connectors.Action]int
	// Held counts destructive ops a guard kept back.
	Held  int
	Guard *plan.Guard
	// Failed lists ops that did not succeed.
	Failed []Failure
	// Deferred lists references not written because the identity they
	// point to has no object yet; the next run tries again.
	Deferred []string
	// Drift lists ops that found the target not as idsync left it (an
	// object gone); state was corrected to match.
	Drift []string
	// Escrowed counts failed ops put in escrow for a later retry.
	Escrowed int
	// Quarantined says why the engine stopped sending to the target, and
	// Skipped why it was not even planned; empty when neither.
	Quarantined, Skipped string
	// Waiting counts records the plan left for the next wave (opsPerRun).
	Waiting int
}

// Failure is one op that did not apply.
type Failure struct {
	Op  connectors.Op
	Err error
}

// Failed counts failed ops across targets.
func (r *Report) Failed() int {
	n := 0
	for _, t := range r.Targets {
		n += len(t.Failed)
	}
	return n
}

// Waiting counts records left for the next wave, across the targets that
// can take one now (neither skipped nor quarantined). Callers plan and
// apply again while it is above zero: each wave is bounded by opsPerRun,
// so a first load of millions of identities never holds one whole plan.
func (r *Report) Waiting() int {
	n := 0
	for _, t := range r.Targets {
		if t.Skipped == "" && t.Quarantined == "" {
			n += t.Waiting
		}
	}
	return n
}

// Applied counts ops applied across targets, groups included.
func (r *Report) Applied() int {
	n := 0
	for _, t := range r.Targets {
		for _, c := range t.Applied {
			n += c
		}
		for _, c := range t.AppliedGroups {
			n += c
		}
	}
	return n
}

// Held counts guard-held ops across targets.
func (r *Report) Held() int {
	n := 0
	for _, t := range r.Targets {
		n += t.Held
	}
	return n
}

// Apply executes p. Each acknowledged op is committed to state before the
// next is sent, so an interrupted apply loses nothing: the next plan sees
// exactly what was done. A source's watermark advances only when every op
// of its targets succeeded.
func (e *Engine) Apply(ctx context.Context, p *plan.Plan, opts ApplyOptions) (*Report, error) {
	if opts.Retries == 0 {
		opts.Retries = 5
	}
	if opts.Backoff == 0 {
		opts.Backoff = 200 * time.Millisecond
	}
	if opts.MaxBackoff == 0 {
		opts.MaxBackoff = time.Minute
	}
	rep := &Report{}
	failed := map[string]bool{}
	runID := e.runID
	defer e.syncEvery(time.Second)()
	for _, pt := range p.Targets {
		t := e.findTarget(pt.Name)
		if t == nil {
			return rep, fmt.Errorf("plan names target %q, which the config does not define", pt.Name)
		}
		if opts.CheckSerial {
			serial, err := e.store.Serial(pt.Name)
			if err != nil {
				return rep, err
			}
			if serial != pt.Serial {
				return rep, fmt.Errorf("target %s: %w", pt.Name, ErrStalePlan)
			}
		}
		a := &applier{e: e, t: t, opts: opts, log: e.opts.Log.With("target", pt.Name), runID: runID,
			sensitive: pt.Sensitive, retrying: map[string]bool{}, poisoned: map[string]bool{},
			rep: &TargetReport{Name: pt.Name, Applied: map[connectors.Action]int{}, AppliedGroups: map[connectors.Action]int{},
				Guard: pt.Guard, Skipped: pt.Skipped, Waiting: pt.Waiting}}
		for _, k := range pt.Retrying {
			a.retrying[k] = true
		}
		rep.Targets = append(rep.Targets, a.rep)
		if pt.Skipped != "" {
			failed[pt.Name] = true // its ops are not done: the next run reads in full
			continue
		}
		e.opts.Progress.Begin("apply "+pt.Name, len(pt.Ops))
		err := a.run(ctx, pt)
		e.opts.Progress.End()
		if err != nil {
			return rep, err
		}
		if err := e.gauges(pt.Name, a.rep.Quarantined != ""); err != nil {
			return rep, err
		}
		// Failed ops went to escrow: the run is done with them for now,
		// unless the target was quarantined and ops were never tried. A
		// deferred reference is not done either: a delta would not carry
		// its record again, so the next run must read in full. Nor are
		// records that wait for the next wave.
		failed[pt.Name] = a.rep.Quarantined != "" || len(pt.Deferred) > 0 || len(a.rep.Deferred) > 0 || pt.Waiting > 0
	}
	for _, s := range p.Sources {
		if err := e.advance(s, failed); err != nil {
			return rep, err
		}
	}
	e.keepMergedIndexes(p)
	// Reclaim the space of expired provisioning-log records; a failure
	// costs only disk until the next apply.
	if err := e.store.RunLogGC(); err != nil {
		e.opts.Log.Error("provisioning log space reclaim failed", "err", err)
	}
	return rep, e.store.Sync()
}

// syncEvery makes state durable at least every d while apply runs, and
// returns the function that stops it. Commits are not fsynced one by one
// (that would cap apply at about a thousand ops a second); a killed process
// loses nothing either way, and a power cut loses at most d of commits,
// whose ops recovery and the next plan re-derive.
func (e *Engine) syncEvery(d time.Duration) func() {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if err := e.store.Sync(); err != nil {
					e.opts.Log.Error("state sync failed", "err", err)
				}
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// gauges refreshes the per-target gauges after an apply.
func (e *Engine) gauges(target string, quarantined bool) error {
	if e.opts.Metrics == nil {
		return nil
	}
	n := 0
	if err := e.store.ScanEscrow(target, func(snapshots.Escrow) error { n++; return nil }); err != nil {
		return err
	}
	q := 0.0
	if quarantined {
		q = 1
	}
	e.metric(func(m *Metrics) {
		m.escrowOps.WithLabelValues(target).Set(float64(n))
		m.quarantined.WithLabelValues(target).Set(q)
	})
	return nil
}

// advance moves a source's watermark after a run. A run that left ops
// undone marks it unclean instead, which makes the next run a full one.
func (e *Engine) advance(s plan.Source, failed map[string]bool) error {
	w, _, err := e.store.Watermark(s.Name)
	if err != nil {
		return err
	}
	w.Clean = true
	if s.Full {
		w.FullRecords = s.Records // a fact about the source, clean run or not
	}
	for _, t := range s.Targets {
		if failed[t] {
			w.Clean = false
		}
	}
	defer e.metric(func(m *Metrics) { m.watermarkAge.WithLabelValues(s.Name).Set(float64(e.opts.Now.Unix() - w.LastRun)) })
	if w.Clean {
		w.LastRun = e.opts.Now.Unix()
		if s.Full {
			w.LastFull, w.DeltaRuns = w.LastRun, 0
		} else {
			w.DeltaRuns++
		}
	}
	return e.store.SetWatermark(s.Name, w)
}

func (e *Engine) findTarget(name string) *target {
	for _, s := range e.c.sources {
		for _, t := range s.targets {
			if t.cfg.Name == name {
				return t
			}
		}
	}
	return nil
}

// refresh stores new fingerprints for records that needed no op.
func (e *Engine) refresh(target string, rs []plan.Refresh) error {
	const chunk = 1000 // keeps each transaction well inside Badger's limits
	for len(rs) > 0 {
		n := min(chunk, len(rs))
		changes := make([]snapshots.Change, 0, n)
		for _, r := range rs[:n] {
			en, ok, err := e.store.Get(target, r.Key)
			if err != nil {
				return err
			}
			if ok {
				en.Hash = r.Hash
				changes = append(changes, snapshots.Change{Entry: en})
			}
		}
		if err := e.store.Commit(target, changes...); err != nil {
			return err
		}
		rs = rs[n:]
	}
	return nil
}
