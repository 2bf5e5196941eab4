package pipeline

import (
	"cmp"
	"context"
	"errors"
	"fmt"
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
	// Retries is how many times a retryable failure is retried. Defaults to 3.
	Retries int
	// Backoff is the first retry delay, doubled each time. Defaults to 200ms.
	Backoff time.Duration
}

// Report is what Apply did.
type Report struct {
	Targets []*TargetReport
}

// TargetReport is what Apply did to one target.
type TargetReport struct {
	Name string
	// Applied counts successful ops by action.
	Applied map[connectors.Action]int
	// Held counts destructive ops a guard kept back.
	Held  int
	Guard *plan.Guard
	// Failed lists ops that did not succeed.
	Failed []Failure
	// Drift lists ops that found the target not as idsync left it (an
	// object gone); state was corrected to match.
	Drift []string
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

// Held counts guard-held ops across targets.
func (r *Report) Held() int {
	n := 0
	for _, t := range r.Targets {
		n += t.Held
	}
	return n
}

// Apply executes p. Each acknowledged op is committed to state in its own
// transaction, so an interrupted apply loses nothing: the next plan sees
// exactly what was done.
func (e *Engine) Apply(ctx context.Context, p *plan.Plan, opts ApplyOptions) (*Report, error) {
	if opts.Retries == 0 {
		opts.Retries = 3
	}
	if opts.Backoff == 0 {
		opts.Backoff = 200 * time.Millisecond
	}
	rep := &Report{}
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
		tr, err := e.applyTarget(ctx, t, pt, opts)
		rep.Targets = append(rep.Targets, tr)
		if err != nil {
			return rep, err
		}
	}
	return rep, e.store.Sync()
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

func (e *Engine) applyTarget(ctx context.Context, t *target, pt *plan.Target, opts ApplyOptions) (*TargetReport, error) {
	rep := &TargetReport{Name: pt.Name, Applied: map[connectors.Action]int{}, Guard: pt.Guard}
	conn, err := e.target(ctx, t)
	if err != nil {
		return rep, err
	}
	log := e.opts.Log.With("target", pt.Name)
	for _, op := range pt.Ops {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		if op.Action.Destructive() && pt.Guard != nil && !opts.AllowDeletes {
			rep.Held++
			continue
		}
		res, err := e.send(ctx, conn, t, op, opts)
		switch {
		case err == nil:
		case errors.Is(err, connectors.ErrNotFound) && op.Action == connectors.Delete:
			// Already gone: the delete has nothing left to do.
		case errors.Is(err, connectors.ErrNotFound):
			// The object vanished behind idsync's back. Forget the dead
			// link; the next run creates the object again if still wanted.
			rep.Drift = append(rep.Drift, fmt.Sprintf("%s %s: object %s is gone from the target", op.Action, op.Key, op.ID))
			log.Warn("drift: object vanished", "key", op.Key, "id", op.ID, "action", op.Action.String())
			if err := e.store.Commit(t.cfg.Name, snapshots.Change{Entry: snapshots.Entry{Key: op.Key}, Delete: true}); err != nil {
				return rep, err
			}
			continue
		default:
			rep.Failed = append(rep.Failed, Failure{Op: op.Op, Err: err})
			log.Error("op failed", "key", op.Key, "action", op.Action.String(), "err", err)
			continue
		}
		if err := e.commit(t.cfg.Name, op, res); err != nil {
			return rep, fmt.Errorf("target %s key %q: commit state: %w", pt.Name, op.Key, err)
		}
		rep.Applied[op.Action]++
	}
	return rep, e.refresh(t.cfg.Name, pt.Refresh)
}

// send applies one op with retries; a create that collides with an
// existing object is turned into an adoption of it.
func (e *Engine) send(ctx context.Context, conn connectors.Target, t *target, op plan.Op, opts ApplyOptions) (connectors.Result, error) {
	delay := opts.Backoff
	for attempt := 0; ; attempt++ {
		res, err := conn.Apply(ctx, op.Op)
		if err == nil || !connectors.IsRetryable(err) || attempt >= opts.Retries {
			if errors.Is(err, connectors.ErrExists) && op.Action == connectors.Create {
				return e.adoptOnConflict(ctx, conn, t, op)
			}
			return res, err
		}
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(delay):
		}
		delay *= 2
	}
}

func (e *Engine) adoptOnConflict(ctx context.Context, conn connectors.Target, t *target, op plan.Op) (connectors.Result, error) {
	m, ok := conn.(connectors.Matcher)
	if !ok || t.match < 0 {
		return connectors.Result{}, connectors.Terminal(connectors.ErrExists, "create of %s collided and the target has no match rule", op.Key)
	}
	attr := t.policy.Attrs[t.match].Name
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
	return conn.Apply(ctx, adopt)
}

// commit records an acknowledged op as the object's last-known state.
func (e *Engine) commit(target string, op plan.Op, res connectors.Result) error {
	if op.Action == connectors.Delete {
		return e.store.Commit(target, snapshots.Change{Entry: snapshots.Entry{Key: op.Key}, Delete: true})
	}
	en, _, err := e.store.Get(target, op.Key)
	if err != nil {
		return err
	}
	en.Key, en.Hash = op.Key, op.Hash
	switch op.Action {
	case connectors.Create, connectors.Adopt:
		en.ID = cmp.Or(res.ID, op.ID)
		en.Disabled, en.Since = false, e.opts.Now.Unix()
	case connectors.Enable, connectors.Disable:
		en.Disabled, en.Since = op.Action == connectors.Disable, e.opts.Now.Unix()
	}
	desired := op.Desired
	if op.Action == connectors.Create {
		desired = op.Attrs()
	}
	if desired != nil {
		if en.Attrs, err = encodeAttrs(desired); err != nil {
			return err
		}
	}
	return e.store.Commit(target, snapshots.Change{Entry: en})
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
