package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
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

// applier applies one target's ops.
type applier struct {
	e    *Engine
	t    *target
	conn connectors.Target
	opts ApplyOptions
	log  *slog.Logger
	mu   sync.Mutex // guards rep and the counters: workers report concurrently
	rep  *TargetReport
	// retrying are keys whose escrowed ops are tried again in this plan.
	retrying map[string]bool
	// tried and failures feed the quarantine decision.
	tried, failures int
	stop            context.CancelCauseFunc
	// run names this apply in logs and the provisioning log; seq orders
	// its records; sensitive attributes are redacted there.
	runID     string
	seq       int64
	sensitive []string
	// poisoned keys had an op fail or a reference deferred in this run:
	// none of their later commits may store the record's fingerprint, or
	// the next run would skip the record and never finish its work.
	poisoned map[string]bool
	// commits takes the state commits of bulks and membership batches
	// while a rank runs (see parallel); nil between ranks.
	commits *commitQueue
}

func (a *applier) poison(key string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.poisoned[key] = true
}

// fingerprint returns op with its hash cleared if its key is poisoned.
func (a *applier) fingerprint(op plan.Op) plan.Op {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.poisoned[op.Key] {
		op.Hash = 0
	}
	return op
}

// Quarantine thresholds: a target where at least quarantineMin ops were
// tried and most failed is down or refusing us (an outage, a revoked
// token); going on only adds load and noise.
const (
	quarantineMin   = 10
	quarantineFirst = 5 * time.Minute
	quarantineMax   = 6 * time.Hour
	escrowFirst     = 5 * time.Minute
	escrowMax       = 24 * time.Hour
)

// run applies the ops rank by rank (see rank): every op of one rank is
// independent of the others, so up to the target's concurrency run at once,
// and a rank starts only when the one before it has finished.
func (a *applier) run(ctx context.Context, pt *plan.Target) error {
	conn, err := a.e.target(ctx, a.t)
	if err != nil {
		return a.quarantine(fmt.Sprintf("cannot connect: %v", err))
	}
	a.conn = conn
	ctx, a.stop = context.WithCancelCause(ctx)
	defer a.stop(nil)
	ops := pt.Ops
	for len(ops) > 0 && a.rep.Quarantined == "" {
		n := 1
		for n < len(ops) && rank(ops[n]) == rank(ops[0]) {
			n++
		}
		if err := a.parallel(ctx, a.units(ops[:n], pt.Guard)); err != nil && a.rep.Quarantined == "" {
			return err
		}
		ops = ops[n:]
	}
	if a.rep.Quarantined != "" {
		return a.quarantine(a.rep.Quarantined)
	}
	if _, ok, err := a.e.store.Quarantine(a.t.cfg.Name); err != nil {
		return err
	} else if ok {
		a.log.Info("quarantine lifted: the target answered again")
		if err := a.e.store.SetQuarantine(a.t.cfg.Name, nil); err != nil {
			return err
		}
	}
	if err := a.e.refresh(a.t.cfg.Name, pt.Refresh); err != nil {
		return err
	}
	// Every op has its outcome: let plans skip the journal until the next
	// apply writes to it.
	return a.e.store.JournalSettle(a.t.cfg.Name)
}

// quarantine records that the target is to be left alone for a while;
// each quarantine in a row doubles the wait.
func (a *applier) quarantine(reason string) error {
	a.rep.Quarantined = reason
	q, _, err := a.e.store.Quarantine(a.t.cfg.Name)
	if err != nil {
		return err
	}
	wait := min(quarantineFirst<<min(q.Strikes, 20), quarantineMax)
	now := a.e.opts.Now.Unix()
	a.log.Error("target quarantined", "reason", reason, "until", time.Unix(now, 0).Add(wait).UTC().Format(time.RFC3339))
	return a.e.store.SetQuarantine(a.t.cfg.Name, &snapshots.Quarantine{Reason: reason, Since: now,
		Until: now + int64(wait.Seconds()), Strikes: q.Strikes + 1})
}

// units splits one rank's ops into independent pieces of work. Membership
// ops of one group stay in one unit, as batches of membersPerRequest sent
// in order; every other op is a unit of its own.
func (a *applier) units(ops []plan.Op, g *plan.Guard) []func(context.Context) error {
	var units []func(context.Context) error
	for len(ops) > 0 {
		op := ops[0]
		if op.Action == connectors.AddMember || op.Action == connectors.RemoveMember {
			n := 1
			for n < len(ops) && ops[n].Action == op.Action && ops[n].Group == op.Group {
				n++
			}
			group := ops[:n]
			units = append(units, func(ctx context.Context) error {
				for start := 0; start < len(group); start += a.t.cfg.MembersPerRequest {
					if err := a.members(ctx, group[start:min(start+a.t.cfg.MembersPerRequest, len(group))]); err != nil {
						return err
					}
				}
				return nil
			})
			ops = ops[n:]
			continue
		}
		ops = ops[1:]
		if op.Action.Destructive() && g != nil && !a.opts.AllowDeletes {
			a.rep.Held++
			a.history(op.Op, "held", nil)
			a.e.metric(func(m *Metrics) { m.applyOps.WithLabelValues(a.t.cfg.Name, op.Action.String(), "held").Inc() })
			a.e.opts.Progress.Add(1)
			continue
		}
		held := func(op plan.Op) bool { return op.Action.Destructive() && g != nil && !a.opts.AllowDeletes }
		if ba, ok := a.conn.(connectors.BulkApplier); ok && ba.BulkSize() > 1 && op.Object == connectors.User {
			// Gather this rank's user ops into requests of BulkSize; held
			// ops are counted when the loop reaches them.
			chunk := []plan.Op{op}
			for len(ops) > 0 && len(chunk) < ba.BulkSize() && ops[0].Object == connectors.User && !held(ops[0]) {
				chunk, ops = append(chunk, ops[0]), ops[1:]
			}
			units = append(units, func(ctx context.Context) error { return a.bulk(ctx, ba, chunk) })
			continue
		}
		units = append(units, func(ctx context.Context) error { return a.one(ctx, op) })
	}
	return units
}

// fail records a failed op, puts it in escrow, and quarantines the target
// when most of what it was sent failed.
func (a *applier) fail(op connectors.Op, err error) {
	a.history(op, "failed", err)
	a.e.metric(func(m *Metrics) { m.applyOps.WithLabelValues(a.t.cfg.Name, op.Action.String(), "failed").Inc() })
	a.e.opts.Progress.Add(1)
	a.mu.Lock()
	a.poisoned[op.Key] = true
	a.rep.Failed = append(a.rep.Failed, Failure{Op: op, Err: err})
	a.tried++
	a.failures++
	trip := a.rep.Quarantined == "" && a.failures >= quarantineMin && 2*a.failures >= a.tried
	if trip {
		a.rep.Quarantined = fmt.Sprintf("%d of %d ops failed; last: %v", a.failures, a.tried, err)
	}
	a.mu.Unlock()
	if trip && a.stop != nil {
		a.stop(errors.New(a.rep.Quarantined))
	}
	if op.Object == connectors.User && !errors.Is(err, context.Canceled) {
		if err := a.e.escrow(a.t.cfg.Name, op, err); err != nil {
			a.log.Error("escrow write failed", "key", op.Key, "err", err)
			return
		}
		a.mu.Lock()
		a.rep.Escrowed++
		a.mu.Unlock()
	}
}

// succeeded counts a success and clears the key's escrow if it had one.
func (a *applier) succeeded(op plan.Op) error {
	a.mu.Lock()
	a.tried++
	retried := a.retrying[op.Key]
	a.mu.Unlock()
	if retried && op.Object == connectors.User {
		return a.e.store.DeleteEscrow(a.t.cfg.Name, op.Key)
	}
	return nil
}

// one applies a single user or group op and commits it.
func (a *applier) one(ctx context.Context, op plan.Op) error {
	sent, deferred, ok, err := a.prepare(op)
	if err != nil || !ok {
		return err
	}
	var res connectors.Result
	if len(sent.Changes) > 0 || sent.Action != connectors.Update {
		if err := a.e.journal(a.t.cfg.Name, op); err != nil {
			return err
		}
		res, err = a.send(ctx, plan.Op{Op: sent, Desired: op.Desired})
	}
	return a.settle(ctx, op, res, err, deferred)
}

// bulk applies independent user ops in one request where the target takes
// bulk. An op that failed in a retryable way, or a create that collided,
// goes through the single-op path with its retries and adoption. The
// batch is journaled in one transaction and its successes committed in
// another: per-op transactions would cost more than a local target's op.
func (a *applier) bulk(ctx context.Context, ba connectors.BulkApplier, ops []plan.Op) error {
	var batch []plan.Op
	var sent []connectors.Op
	var deferred [][]string
	for _, op := range ops {
		s, d, ok, err := a.prepare(op)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		if len(s.Changes) == 0 && s.Action == connectors.Update {
			if err := a.settle(ctx, op, connectors.Result{ID: s.ID}, nil, d); err != nil {
				return err
			}
			continue
		}
		batch, sent, deferred = append(batch, op), append(sent, s), append(deferred, d)
	}
	if len(sent) == 0 {
		return nil
	}
	if err := a.e.journal(a.t.cfg.Name, batch...); err != nil {
		return err
	}
	results, errs := ba.ApplyBulk(ctx, sent)
	for i, op := range batch {
		// Counted per op, like single requests, so the figures do not
		// depend on whether the target takes bulk.
		a.e.metric(func(m *Metrics) { m.targetRequests.WithLabelValues(a.t.cfg.Name, codeClass(errs[i])).Inc() })
		if connectors.IsRetryable(errs[i]) || (errors.Is(errs[i], connectors.ErrExists) && op.Action == connectors.Create) {
			results[i], errs[i] = a.send(ctx, plan.Op{Op: sent[i], Desired: op.Desired})
		}
	}
	return a.settleMany(ctx, batch, results, errs, deferred)
}

// settleMany settles a bulk's outcomes: successes that only rewrite their
// own entry are committed together, with their log records, on the commit
// goroutine; the rest go through settle one by one, here, since settling a
// failure may send more requests (a drifted object is recreated).
func (a *applier) settleMany(ctx context.Context, batch []plan.Op, results []connectors.Result, errs []error, deferred [][]string) error {
	var done []settled
	for i, op := range batch {
		if errs[i] == nil && op.Object == connectors.User && op.Action != connectors.Delete {
			done = append(done, settled{op, results[i], deferred[i]})
			continue
		}
		if err := a.settle(ctx, op, results[i], errs[i], deferred[i]); err != nil {
			return err
		}
	}
	if len(done) == 0 {
		return nil
	}
	return a.later(func() error { return a.commitMany(done) })
}

// commitMany commits a bulk's successes and writes their log records.
func (a *applier) commitMany(done []settled) error {
	for i := range done {
		done[i].op = a.fingerprint(done[i].op)
	}
	if err := a.e.commitUsers(a.t.cfg.Name, done); err != nil {
		return fmt.Errorf("target %s: commit state of %d ops: %w", a.t.cfg.Name, len(done), err)
	}
	var log []snapshots.HistoryEntry
	for _, d := range done {
		if err := a.applied(d.op); err != nil {
			return err
		}
		if h, ok := a.historyEntry(d.op.Op, "applied", nil); ok {
			log = append(log, h)
		}
	}
	a.writeHistory(log...)
	return nil
}

// recreate brings back an object that vanished under an update, in the
// same run: the update carries the identity's whole desired state. The
// create goes through send, so a 409 re-matches by the match attribute and
// adopts. References wait for the next run (the fingerprint is cleared);
// ops without the desired state (enable, disable) also leave it to then.
func (a *applier) recreate(ctx context.Context, op plan.Op) error {
	if op.Action != connectors.Update || op.Desired == nil {
		return nil
	}
	re := plan.Op{Op: connectors.Op{Action: connectors.Create, Key: op.Key, Reason: "drift"}}
	for _, p := range a.t.policy.Attrs {
		if v := op.Desired[p.Name]; !p.Reference && v != nil && v != "" {
			re.Changes = append(re.Changes, connectors.Change{Attr: p.Name, New: v})
		}
	}
	res, err := a.send(ctx, re)
	if err != nil {
		a.fail(re.Op, fmt.Errorf("recreating after drift: %w", err))
		return nil
	}
	a.log.Warn("drift: object recreated", "key", op.Key, "id", res.ID)
	return a.e.commitUser(a.t.cfg.Name, re, res, nil)
}

// prepare resolves what op needs before sending. ok is false when the op
// cannot be sent (recorded as failed).
func (a *applier) prepare(op plan.Op) (sent connectors.Op, deferred []string, ok bool, err error) {
	sent, deferred, err = a.resolveRefs(op)
	if err != nil {
		return sent, nil, false, err
	}
	if sent.ID == "" && op.Action != connectors.Create {
		a.fail(op.Op, fmt.Errorf("%s has no object in the target: its create did not succeed", op.Key))
		return sent, nil, false, nil
	}
	return sent, deferred, true, nil
}

// settle records an op's outcome: state for a success, drift for an object
// gone, a failure otherwise. Its error is for state failures only.
func (a *applier) settle(ctx context.Context, op plan.Op, res connectors.Result, err error, deferred []string) error {
	switch {
	case err == nil:
	case errors.Is(err, connectors.ErrNotFound) && op.Action == connectors.Delete:
		// Already gone: the delete has nothing left to do.
	case errors.Is(err, connectors.ErrNotFound) && op.Object == connectors.User:
		// The object vanished behind idsync's back. Forget the dead link;
		// the next run creates the object again if it is still wanted.
		a.mu.Lock()
		a.rep.Drift = append(a.rep.Drift, fmt.Sprintf("%s %s: object %s is gone from the target", op.Action, op.Key, op.ID))
		a.mu.Unlock()
		a.log.Warn("drift: object vanished", "key", op.Key, "id", op.ID, "action", op.Action.String())
		if err := a.e.commitUser(a.t.cfg.Name, plan.Op{Op: connectors.Op{Action: connectors.Delete, Key: op.Key}}, res, nil); err != nil {
			return err
		}
		return a.recreate(ctx, op)
	default:
		a.fail(op.Op, err)
		a.log.Error("op failed", "key", op.Key, "action", op.Action.String(), "err", err)
		return nil
	}
	if op.Object == connectors.Group {
		err = a.e.commitGroup(a.t.cfg.Name, op, res)
	} else {
		err = a.e.commitUser(a.t.cfg.Name, a.fingerprint(op), res, deferred)
	}
	if err != nil {
		return fmt.Errorf("target %s key %q: commit state: %w", a.t.cfg.Name, op.Key, err)
	}
	if err := a.applied(op); err != nil {
		return err
	}
	a.history(op.Op, "applied", nil)
	return nil
}

// applied counts a committed op in the report, metrics and progress; the
// caller writes its log record.
func (a *applier) applied(op plan.Op) error {
	if err := a.succeeded(op); err != nil {
		return err
	}
	a.e.metric(func(m *Metrics) { m.applyOps.WithLabelValues(a.t.cfg.Name, op.Action.String(), "applied").Inc() })
	a.e.opts.Progress.Add(1)
	a.mu.Lock()
	defer a.mu.Unlock()
	if op.Object == connectors.Group {
		a.rep.AppliedGroups[op.Action]++
	} else {
		a.rep.Applied[op.Action]++
	}
	return nil
}

// resolveRefs turns reference values (source keys) into the target ids of
// those identities' objects. A reference whose object does not exist yet
// is left out and reported as deferred.
//
// It also fills in the target id of an object created earlier in this
// apply: the plan could not know it.
func (a *applier) resolveRefs(op plan.Op) (connectors.Op, []string, error) {
	sent := op.Op
	if sent.ID == "" && op.Object == connectors.User && op.Action != connectors.Create {
		en, ok, err := a.e.store.Get(a.t.cfg.Name, op.Key)
		if err != nil {
			return sent, nil, err
		}
		if ok {
			sent.ID = en.ID
		}
	}
	if op.Action != connectors.Update {
		return sent, nil, nil
	}
	var deferred []string
	sent.Changes = nil
	for _, c := range op.Changes {
		if !a.t.reference(c.Attr) || c.New == nil || c.New == "" {
			sent.Changes = append(sent.Changes, c)
			continue
		}
		key, _ := c.New.(string)
		en, ok, err := a.e.store.Get(a.t.cfg.Name, key)
		if err != nil {
			return sent, nil, err
		}
		if !ok {
			a.poison(op.Key)
			deferred = append(deferred, c.Attr)
			a.mu.Lock()
			a.rep.Deferred = append(a.rep.Deferred, fmt.Sprintf("%s.%s → %s: not provisioned yet", op.Key, c.Attr, key))
			a.mu.Unlock()
			continue
		}
		c.New = en.ID
		if old, ok := c.Old.(string); ok && old != "" {
			if oen, ok, _ := a.e.store.Get(a.t.cfg.Name, old); ok {
				c.Old = oen.ID
			}
		}
		sent.Changes = append(sent.Changes, c)
	}
	return sent, deferred, nil
}

// members sends one batch of membership ops as one request.
func (a *applier) members(ctx context.Context, batch []plan.Op) error {
	name, target := batch[0].Group, a.t.cfg.Name
	g, ok, err := a.e.store.Group(target, name)
	if err != nil {
		return err
	}
	fail := func(op plan.Op, err error) { a.fail(op.Op, err) }
	if !ok {
		for _, op := range batch {
			fail(op, fmt.Errorf("group %s does not exist in the target", name))
		}
		return nil
	}
	req := connectors.Op{Action: batch[0].Action, Object: connectors.Group, Key: name, ID: g.ID, Group: name}
	var sent []plan.Op
	keys := make([]string, len(batch))
	for i, op := range batch {
		keys[i] = op.Key
	}
	var missing []plan.Op // failed once the lookup's transaction is over
	i := 0
	err = a.e.store.Lookup(target, keys, func(en snapshots.Entry, ok bool) error {
		op := batch[i]
		i++
		if !ok {
			missing = append(missing, op)
			return nil
		}
		req.Members = append(req.Members, en.ID)
		sent = append(sent, a.fingerprint(op))
		return nil
	})
	if err != nil {
		return err
	}
	for _, op := range missing {
		fail(op, fmt.Errorf("member %s has no object in the target", op.Key))
	}
	if len(sent) == 0 {
		return nil
	}
	if _, err := a.send(ctx, plan.Op{Op: req}); err != nil {
		for _, op := range sent {
			fail(op, err)
		}
		return nil
	}
	return a.later(func() error { return a.commitBatch(req.Action, name, sent) })
}

// commitBatch commits an acknowledged membership batch and counts it.
func (a *applier) commitBatch(action connectors.Action, name string, sent []plan.Op) error {
	if err := a.e.commitMembers(a.t.cfg.Name, name, sent); err != nil {
		return err
	}
	a.e.metric(func(m *Metrics) {
		m.applyOps.WithLabelValues(a.t.cfg.Name, action.String(), "applied").Add(float64(len(sent)))
	})
	log := make([]snapshots.HistoryEntry, 0, len(sent))
	for _, op := range sent {
		if h, ok := a.historyEntry(op.Op, "applied", nil); ok {
			log = append(log, h)
		}
	}
	a.writeHistory(log...)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.rep.Applied[action] += len(sent)
	return nil
}

// send applies one op with retries; a create that collides with an
// existing object is turned into an adoption of it.
func (a *applier) send(ctx context.Context, op plan.Op) (connectors.Result, error) {
	start := time.Now()
	defer a.e.metric(func(m *Metrics) {
		m.applyDuration.WithLabelValues(a.t.cfg.Name, op.Action.String()).Observe(time.Since(start).Seconds())
	})
	for attempt := 0; ; attempt++ {
		res, err := a.conn.Apply(ctx, op.Op)
		a.e.metric(func(m *Metrics) { m.targetRequests.WithLabelValues(a.t.cfg.Name, codeClass(err)).Inc() })
		if err == nil || !connectors.IsRetryable(err) || attempt >= a.opts.Retries {
			if errors.Is(err, connectors.ErrExists) && op.Action == connectors.Create && op.Object == connectors.User {
				return a.adoptOnConflict(ctx, op)
			}
			return res, err
		}
		a.log.Info("retrying", "key", op.Key, "action", op.Action.String(), "attempt", attempt+1, "err", err)
		a.e.metric(func(m *Metrics) { m.retries.WithLabelValues(a.t.cfg.Name).Inc() })
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(backoff(a.opts, attempt, connectors.RetryAfterOf(err))):
		}
	}
}

// backoff is the wait before retry attempt+1: exponential with full
// jitter, so concurrent workers hit by the same 429 spread out, but never
// shorter than what the target asked for, and never past MaxBackoff.
func backoff(o ApplyOptions, attempt int, retryAfter time.Duration) time.Duration {
	ceiling := min(o.Backoff<<min(attempt, 20), o.MaxBackoff)
	d := time.Duration(rand.Int64N(int64(ceiling) + 1))
	return min(max(d, retryAfter), o.MaxBackoff)
}

func (a *applier) adoptOnConflict(ctx context.Context, op plan.Op) (connectors.Result, error) {
	m, ok := a.conn.(connectors.Matcher)
	if !ok || a.t.match < 0 {
		return connectors.Result{}, connectors.Terminal(connectors.ErrExists, "create of %s collided and the target has no match rule", op.Key)
	}
	attr := a.t.policy.Attrs[a.t.match].Name
	found, err := m.Match(ctx, attr, op.Attrs()[attr])
	if err != nil {
		return connectors.Result{}, err
	}
	if len(found) != 1 {
		return connectors.Result{}, connectors.Terminal(connectors.ErrExists, "create of %s collided; %d objects match %s", op.Key, len(found), attr)
	}
	adopt := connectors.Op{Action: connectors.Adopt, Key: op.Key, ID: found[0].ID, Reason: "match"}
	for _, c := range op.Changes {
		adopt.Changes = append(adopt.Changes, connectors.Change{Attr: c.Attr, Old: found[0].Attrs[c.Attr], New: c.New})
	}
	return a.conn.Apply(ctx, adopt)
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
