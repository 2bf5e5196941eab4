package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/idsync/idsync/connectors"
	"github.com/idsync/idsync/pipeline/plan"
	"github.com/idsync/idsync/snapshots"
)

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
	// sealKept keeps the target's seal open at the end: a failed
	// membership's fingerprint could not be cleared (see unsettled).
	sealKept bool
	// commits takes the state commits of bulks and membership batches
	// while a rank runs (see parallel); nil between ranks.
	commits *commitQueue
	// created holds what the create rank committed, for the enable,
	// update and membership ranks after it; nil at any other rank.
	created *createdIndex
	// pt is the plan being applied. Its creates may be compact, and each
	// gets Changes of its own only as it is sent (see owned).
	pt *plan.Target
}

// owned returns op with Changes of its own, as it is sent, journaled and
// committed. A first sync's creates stay compact in the plan until then:
// expanding a rank of them at once held every create's changes for the
// whole apply, about 500 MB at 1M creates of 10 attributes, which the
// collector marked again at every cycle.
func (a *applier) owned(op plan.Op) plan.Op { return a.pt.Own(op) }

func (a *applier) poison(key string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.poisoned[key] = true
}

// fingerprint returns op with its hash cleared if its key is poisoned.
func (a *applier) fingerprint(op plan.Op) plan.Op {
	if a.isPoisoned(op.Key) {
		op.Hash = 0
	}
	return op
}

func (a *applier) isPoisoned(key string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.poisoned[key]
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
	a.pt = pt
	if err := a.openSeal(); err != nil {
		return err
	}
	ops := pt.Ops
	for len(ops) > 0 && a.rep.Quarantined == "" {
		n := 1
		for n < len(ops) && rank(ops[n]) == rank(ops[0]) {
			n++
		}
		switch op := ops[0]; {
		case op.Action == connectors.Create && op.Object == connectors.User:
			a.created = newCreatedIndex(ops[:n])
		case op.Action == connectors.Enable, op.Action == connectors.Update,
			op.Action == connectors.AddMember, op.Action == connectors.RemoveMember:
			// Their commits keep it current: see createdIndex.
		default:
			a.created = nil
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
	if err := a.closeSeal(ctx); err != nil {
		return err
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
	total := len(ops)
	for len(ops) > 0 {
		op, rest := ops[0], ops
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
			a.history(op.Op(), "held", nil)
			a.e.metric(func(m *Metrics) { m.applyOps.WithLabelValues(a.t.cfg.Name, op.Action.String(), "held").Inc() })
			a.e.opts.Progress.Add(1)
			continue
		}
		held := func(op plan.Op) bool { return op.Action.Destructive() && g != nil && !a.opts.AllowDeletes }
		if ba, ok := a.conn.(connectors.BulkApplier); ok && ba.BulkSize() > 1 && op.Object == connectors.User {
			// Gather this rank's user ops into requests of BulkSize; held
			// ops are counted when the loop reaches them.
			n := 1
			for n < len(rest) && n < ba.BulkSize() && rest[n].Object == connectors.User && !held(rest[n]) {
				n++
			}
			chunk := rest[:n:n] // a window on the plan, not a copy
			start := total - len(rest)
			ops = rest[n:]
			units = append(units, func(ctx context.Context) error { return a.bulk(ctx, ba, chunk, start) })
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
	a.unsettled(op, err)
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
	op = a.owned(op)
	sent, deferred, ok, err := a.prepare(op)
	if err != nil || !ok {
		return err
	}
	var res connectors.Result
	if len(sent.Changes) > 0 || sent.Action != connectors.Update {
		if err := a.e.journal(a.t.cfg.Name, op); err != nil {
			return err
		}
		res, err = a.send(ctx, sent)
	}
	return a.settle(ctx, op, res, err, deferred)
}

// bulk applies independent user ops in one request where the target takes
// bulk. An op that failed in a retryable way, or a create that collided,
// goes through the single-op path with its retries and adoption. The
// batch is journaled as one record and its successes committed in one
// transaction: per-op transactions would cost more than a local target's
// op, and so did per-op records. start is the first op's place in its
// rank.
func (a *applier) bulk(ctx context.Context, ba connectors.BulkApplier, ops []plan.Op, start int) error {
	batch := make([]plan.Op, 0, len(ops))
	sent := make([]connectors.Op, 0, len(ops))
	deferred := make([][]string, 0, len(ops))
	at := make([]int, 0, len(ops))
	for i, op := range ops {
		op = a.owned(op)
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
		at = append(at, start+i)
	}
	if len(sent) == 0 {
		return nil
	}
	journaled, err := a.e.journalBatch(a.t.cfg.Name, batch)
	if err != nil {
		return err
	}
	results, errs := ba.ApplyBulk(ctx, sent)
	for i, op := range batch {
		// Counted per op, like single requests, so the figures do not
		// depend on whether the target takes bulk.
		a.e.metric(func(m *Metrics) { m.targetRequests.WithLabelValues(a.t.cfg.Name, codeClass(errs[i])).Inc() })
		if connectors.IsRetryable(errs[i]) || (errors.Is(errs[i], connectors.ErrExists) && op.Action == connectors.Create) {
			results[i], errs[i] = a.send(ctx, sent[i])
		}
	}
	return a.settleMany(ctx, bulkOutcome{batch, results, errs, deferred, at}, journaled)
}

// bulkOutcome is what a bulk sent and got back, op by op, with each op's
// place in its rank.
type bulkOutcome struct {
	batch    []plan.Op
	results  []connectors.Result
	errs     []error
	deferred [][]string
	at       []int
}

// settleMany settles a bulk's outcomes: successes that only rewrite their
// own entry are committed together, with their log records, on the commit
// goroutine; the rest go through settle one by one, here, since settling a
// failure may send more requests (a drifted object is recreated).
//
// The bulk's journal batch goes with the successes' commit. Each other op
// is first journaled on its own, as a single op is, so it keeps a record
// until its own outcome is settled: a failure keeps it for recovery.
func (a *applier) settleMany(ctx context.Context, b bulkOutcome, journaled uint64) error {
	done := make([]settled, 0, len(b.batch))
	for i, op := range b.batch {
		if b.errs[i] == nil && op.Object == connectors.User && op.Action != connectors.Delete {
			done = append(done, settled{op, b.results[i], b.deferred[i], b.at[i]})
			continue
		}
		if err := a.e.journal(a.t.cfg.Name, op); err != nil {
			return err
		}
		if err := a.settle(ctx, op, b.results[i], b.errs[i], b.deferred[i]); err != nil {
			return err
		}
	}
	if len(done) == 0 {
		if journaled == 0 {
			return nil
		}
		return a.e.store.JournalDeleteBatch(a.t.cfg.Name, journaled)
	}
	return a.later(func() error { return a.commitMany(done, journaled) })
}

// commitMany commits a bulk's successes, with the removal of its journal
// batch, and writes their log records.
func (a *applier) commitMany(done []settled, journaled uint64) error {
	for i := range done {
		done[i].op = a.fingerprint(done[i].op)
	}
	entries, err := a.e.commitUsers(a.t.cfg.Name, done, journaled)
	if err != nil {
		return fmt.Errorf("target %s: commit state of %d ops: %w", a.t.cfg.Name, len(done), err)
	}
	if a.created != nil {
		from := 0
		for i, d := range done {
			if d.op.Action == connectors.Create {
				a.created.set(d.at, entries[i])
			} else {
				from = a.created.rewrite(entries[i], from)
			}
		}
	}
	room := 0
	for _, d := range done {
		room += recordRoom(d.op.Op())
	}
	log := newHistoryLog(len(done), room)
	for _, d := range done {
		if err := a.applied(d.op); err != nil {
			return err
		}
		log.add(a, d.op.Op())
	}
	log.write(a)
	return nil
}

// recreate brings back an object that vanished under an update, in the
// same run: the update carries the identity's whole desired state. The
// create goes through send, so a 409 re-matches by the match attribute and
// adopts. References wait for the next run (the fingerprint is cleared);
// ops without the desired state (enable, disable) also leave it to then.
func (a *applier) recreate(ctx context.Context, op plan.Op) error {
	desired := op.Desired()
	if op.Action != connectors.Update || desired == nil {
		return nil
	}
	re := connectors.Op{Action: connectors.Create, Key: op.Key, Reason: "drift"}
	for _, p := range a.t.policy.Attrs {
		if v := desired[p.Name]; !p.Reference && v != nil && v != "" {
			re.Changes = append(re.Changes, connectors.Change{Attr: p.Name, New: v})
		}
	}
	res, err := a.send(ctx, re)
	if err != nil {
		a.fail(re, fmt.Errorf("recreating after drift: %w", err))
		return nil
	}
	a.log.Warn("drift: object recreated", "key", op.Key, "id", res.ID)
	return a.e.commitUser(a.t.cfg.Name, plan.NewOp(re, nil), res, nil)
}

// prepare resolves what op needs before sending. ok is false when the op
// cannot be sent (recorded as failed).
func (a *applier) prepare(op plan.Op) (sent connectors.Op, deferred []string, ok bool, err error) {
	sent, deferred, err = a.resolveRefs(op)
	if err != nil {
		return sent, nil, false, err
	}
	if sent.ID == "" && op.Action != connectors.Create {
		a.fail(op.Op(), fmt.Errorf("%s has no object in the target: its create did not succeed", op.Key))
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
		a.rep.Drift = append(a.rep.Drift, fmt.Sprintf("%s %s: object %s is gone from the target", op.Action, op.Key, op.ID()))
		a.mu.Unlock()
		a.log.Warn("drift: object vanished", "key", op.Key, "id", op.ID(), "action", op.Action.String())
		a.forget(op)
		if err := a.e.commitUser(a.t.cfg.Name, plan.NewOp(connectors.Op{Action: connectors.Delete, Key: op.Key}, nil), res, nil); err != nil {
			return err
		}
		return a.recreate(ctx, op)
	default:
		a.fail(op.Op(), err)
		a.log.Error("op failed", "key", op.Key, "action", op.Action.String(), "err", err)
		return nil
	}
	if op.Object == connectors.Group {
		err = a.e.commitGroup(a.t.cfg.Name, op, res)
	} else {
		a.forget(op)
		err = a.e.commitUser(a.t.cfg.Name, a.fingerprint(op), res, deferred)
	}
	if err != nil {
		return fmt.Errorf("target %s key %q: commit state: %w", a.t.cfg.Name, op.Key, err)
	}
	if err := a.applied(op); err != nil {
		return err
	}
	a.history(op.Op(), "applied", nil)
	return nil
}

// forget drops op's key's entry from the created index, before a commit
// of it that does not go through commitMany. A create's entry is only
// ever set there, and the create rank is the only one that sets entries.
func (a *applier) forget(op plan.Op) {
	if a.created != nil && op.Action != connectors.Create {
		a.created.forget(op.Key)
	}
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

// userID is the target id of key's user: from this apply's creates when
// it made the user (a first sync's reference updates resolve a manager
// and their own id each, and the store's reads were 7% of that apply's
// CPU), else from the store.
func (a *applier) userID(key string) (string, bool, error) {
	if a.created != nil {
		if id, ok := a.created.id(key); ok {
			return id, true, nil
		}
	}
	return a.e.store.ID(a.t.cfg.Name, key)
}

// resolveRefs turns reference values (source keys) into the target ids of
// those identities' objects. A reference whose object does not exist yet
// is left out and reported as deferred.
//
// It also fills in the target id of an object created earlier in this
// apply: the plan could not know it.
func (a *applier) resolveRefs(op plan.Op) (connectors.Op, []string, error) {
	sent := op.Op()
	if sent.ID == "" && op.Object == connectors.User && op.Action != connectors.Create {
		id, _, err := a.userID(op.Key)
		if err != nil {
			return sent, nil, err
		}
		sent.ID = id
	}
	if op.Action != connectors.Update {
		return sent, nil, nil
	}
	var deferred []string
	sent.Changes = nil
	for _, c := range op.Changes() {
		if !a.t.reference(c.Attr) || c.New == nil || c.New == "" {
			sent.Changes = append(sent.Changes, c)
			continue
		}
		key, _ := c.New.(string)
		id, ok, err := a.userID(key)
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
		c.New = id
		if old, ok := c.Old.(string); ok && old != "" {
			if oid, ok, _ := a.userID(old); ok {
				c.Old = oid
			}
		}
		sent.Changes = append(sent.Changes, c)
	}
	return sent, deferred, nil
}
