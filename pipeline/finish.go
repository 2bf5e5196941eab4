package pipeline

import (
	"fmt"
	"slices"
	"time"

	"github.com/idsync/idsync/connectors"
	"github.com/idsync/idsync/pipeline/diff"
	"github.com/idsync/idsync/pipeline/plan"
)

// finish completes a target's plan once the source is read: it drops ops
// of quarantined keys, deprovisions absent objects (full reads), expires
// grace periods, plans group creates and deletes, orders the ops, marks
// each key's last op with its fingerprint, and applies the guards.
func (e *Engine) finish(sr *sourceRun, tr *targetRun) error {
	for key := range sr.dups {
		tr.failed[key] = true
	}
	if len(tr.failed) > 0 { // a pass over a first plan's millions of ops is 50 ms
		tr.out.Ops = slices.DeleteFunc(tr.out.Ops, func(op plan.Op) bool { return tr.failed[op.Key] })
		tr.out.Refresh = slices.DeleteFunc(tr.out.Refresh, func(r plan.Refresh) bool { return tr.failed[r.Key] })
	}
	e.holdEscrowed(tr)
	if err := e.deprovisionAbsent(sr, tr); err != nil {
		return err
	}
	if tr.t.policy.Groups {
		if err := e.planGroups(tr); err != nil {
			return err
		}
	}
	if err := tr.deferReferences(); err != nil {
		return err
	}
	e.holdEscrowed(tr) // again: absent and grace ops were just added
	sortOps(tr.out.Ops)
	read := sr.seen.len() - len(sr.dups)
	if !sr.full {
		read = -1 // a delta may be empty; the empty-source guard is for full reads
	}
	tr.out.Guard = guard(tr.t, tr.out, read, sr.unkeyed)
	return nil
}

// deprovisionAbsent deprovisions the managed objects a full read did not
// see, and deletes those whose grace period is over. Grace periods come
// from the store's list of deprovisioned objects, so a delta run expires
// them too without scanning every entry.
func (e *Engine) deprovisionAbsent(sr *sourceRun, tr *targetRun) error {
	policy, grace := tr.t.policy, tr.t.cfg.DeleteAfter
	if (!sr.full || tr.out.Managed == 0) && grace <= 0 {
		return nil // a first plan: nothing to deprovision, millions of ops to skip
	}
	planned := make(map[string]bool, len(tr.out.Ops))
	for _, op := range tr.out.Ops {
		planned[op.Key] = true
	}
	if sr.full {
		tr.index.unseen(sr.seen, func(key string, ie indexEntry) {
			if planned[key] || tr.failed[key] {
				return
			}
			if ops := diff.Absent(policy, key, ie.stored(), diff.ReasonAbsent); len(ops) > 0 {
				tr.add(ops, nil)
				planned[key] = true
			}
		})
	}
	if grace <= 0 {
		return nil
	}
	var expired []string
	err := e.store.ScanDeprovisioned(tr.t.cfg.Name, func(key string, since int64) error {
		if !planned[key] && !tr.failed[key] && e.opts.Now.Unix()-since >= int64(grace.Seconds()) {
			expired = append(expired, key)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, key := range expired {
		ie, ok, err := tr.index.get(key)
		if err != nil {
			return err
		}
		if ok {
			tr.add(diff.Expired(key, ie.stored()), nil)
		}
	}
	return nil
}

// holdEscrowed takes out the ops of keys whose escrowed failure is not due
// for a retry yet, listing them instead; keys that are due stay in and are
// noted, so a success clears their escrow.
func (e *Engine) holdEscrowed(tr *targetRun) {
	if len(tr.escrow) == 0 {
		return
	}
	now := e.opts.Now.Unix()
	held := map[string]bool{}
	for _, o := range tr.out.Escrowed {
		held[o.Key] = true
	}
	tr.out.Ops = slices.DeleteFunc(tr.out.Ops, func(op plan.Op) bool {
		es, ok := tr.escrow[op.Key]
		if !ok || op.Object != connectors.User {
			return false
		}
		if !es.Dropped && es.NextRetry <= now {
			if !slices.Contains(tr.out.Retrying, op.Key) {
				tr.out.Retrying = append(tr.out.Retrying, op.Key)
			}
			return false
		}
		if !held[op.Key] {
			held[op.Key] = true
			tr.out.Escrowed = append(tr.out.Escrowed, plan.Escrowed{Key: op.Key, Action: es.Action, Error: es.Error,
				Attempts: es.Attempts, NextRetry: time.Unix(es.NextRetry, 0).UTC(), Dropped: es.Dropped})
		}
		return true
	})
}

// deferReferences leaves out references to identities that have no
// object and get none in this plan (not hired yet, out of scope). Sending
// them would only be deferred at apply time, every run; the record's
// fingerprint is left unset instead, so each run looks again.
func (tr *targetRun) deferReferences() error {
	if !slices.ContainsFunc(tr.t.policy.Attrs, func(a diff.AttrPolicy) bool { return a.Reference }) {
		return nil
	}
	refs := tr.t.reference
	if !slices.ContainsFunc(tr.out.Ops, func(op plan.Op) bool {
		return op.Action == connectors.Update && slices.ContainsFunc(op.Changes(), func(c connectors.Change) bool { return refs(c.Attr) })
	}) {
		return nil // no reference changes (a first plan creates, it does not update)
	}
	creating := map[string]bool{}
	for _, op := range tr.out.Ops {
		if op.Object == connectors.User && (op.Action == connectors.Create || op.Action == connectors.Adopt) {
			creating[op.Key] = true
		}
	}
	deferred := map[string]bool{} // keys whose fingerprint must go
	kept := tr.out.Ops[:0]
	for _, op := range tr.out.Ops {
		if op.Action == connectors.Update {
			changes := op.Changes()[:0:0]
			for _, c := range op.Changes() {
				ref, _ := c.New.(string)
				if !refs(c.Attr) || ref == "" || creating[ref] {
					changes = append(changes, c)
					continue
				}
				if _, managed, err := tr.index.get(ref); err != nil {
					return err
				} else if !managed {
					tr.out.Deferred = append(tr.out.Deferred, fmt.Sprintf("%s.%s → %s: not provisioned", op.Key, c.Attr, ref))
					deferred[op.Key] = true
					continue
				}
				changes = append(changes, c)
			}
			op = op.WithChanges(changes)
			if len(changes) == 0 {
				continue
			}
		}
		kept = append(kept, op)
	}
	tr.out.Ops = kept
	for i := range tr.out.Ops {
		if deferred[tr.out.Ops[i].Key] && tr.out.Ops[i].Object == connectors.User {
			tr.out.Ops[i].Hash = 0
		}
	}
	return nil
}

// planGroups creates the groups that memberships need and, when the target
// asks for it, deletes groups idsync manages that this plan empties.
func (e *Engine) planGroups(tr *targetRun) error {
	delta := map[string]int64{}
	creating := map[string]bool{}
	var extra []plan.Op
	for _, op := range tr.out.Ops {
		switch {
		case op.Action == connectors.AddMember:
			delta[op.Group]++
			if _, ok := tr.groups[op.Group]; !ok && !creating[op.Group] {
				creating[op.Group] = true
				extra = append(extra, plan.NewOp(connectors.Op{Action: connectors.Create, Object: connectors.Group,
					Key: op.Group, Group: op.Group, Reason: diff.ReasonNew}, nil))
			}
		case op.Action == connectors.RemoveMember:
			delta[op.Group]--
		case op.Action == connectors.Delete && op.Object == connectors.User:
			// The target drops a deleted user's memberships with it.
			st, err := e.stored(tr.t.cfg.Name, op.Key)
			if err != nil {
				return err
			}
			for _, g := range st.Groups {
				delta[g]--
			}
		}
	}
	if tr.t.cfg.DeleteEmptyGroups {
		for name, d := range delta {
			if g, ok := tr.groups[name]; ok && d < 0 && g.Members+d <= 0 {
				extra = append(extra, plan.NewOp(connectors.Op{Action: connectors.Delete, Object: connectors.Group,
					Key: name, ID: g.ID, Group: name, Reason: diff.ReasonEmptyGroup}, nil))
			}
		}
	}
	tr.out.Ops = append(tr.out.Ops, extra...)
	return nil
}
