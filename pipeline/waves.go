package pipeline

import (
	"fmt"
	"slices"

	"github.com/idsync/idsync/connectors"
)

// A target's opsPerRun bounds the ops one plan holds, and so the plan's
// memory: records past the bound wait for the next run (a wave), which
// apply starts at once. Records are taken in input order, each with all of
// its ops, so which ones a wave holds never depends on how far the
// workers evaluated ahead.
//
// An update whose only changes are references to identities with no
// object yet is speculative: finish keeps it only if this plan creates
// them, and drops it otherwise. Such ops do not count toward the bound:
// counted, a first load's references to managers further down the file
// would fill every later wave with updates that are then dropped, and the
// waves would stop making progress. They have a budget of their own
// instead; past it, a record's references are deferred to a later run like
// any other unresolved reference.

// count adds a planned record's ops to the bound, and closes the plan
// once it holds opsPerRun of them.
func (tr *targetRun) count(ops []connectors.Op) {
	limit := tr.t.cfg.OpsPerRun
	if limit == 0 {
		return
	}
	for _, op := range ops {
		if tr.speculative(op) {
			tr.guessed++
		} else {
			tr.counted++
		}
	}
	if tr.counted >= limit {
		tr.closed = true
		tr.full.Store(true) // workers stop evaluating for this target
	}
}

// overBudget reports whether a record's ops are speculative and their
// budget is spent; their references are then reported deferred, and the
// record, whose fingerprint stays unset, is evaluated again next run.
func (tr *targetRun) overBudget(key string, ops []connectors.Op) bool {
	limit := tr.t.cfg.OpsPerRun
	if limit == 0 || tr.guessed < limit || slices.ContainsFunc(ops, func(op connectors.Op) bool { return !tr.speculative(op) }) {
		return false
	}
	for _, op := range ops {
		for _, c := range op.Changes {
			tr.out.Deferred = append(tr.out.Deferred, fmt.Sprintf("%s.%s → %v: not provisioned", key, c.Attr, c.New))
		}
	}
	return true
}

// speculative reports whether op is an update of references only, to
// identities state has no object for.
func (tr *targetRun) speculative(op connectors.Op) bool {
	if op.Action != connectors.Update || len(op.Changes) == 0 {
		return false
	}
	for _, c := range op.Changes {
		ref, _ := c.New.(string)
		if !tr.t.reference(c.Attr) || ref == "" {
			return false
		}
		if _, managed, err := tr.index.get(ref); err != nil || managed {
			return false // a read error is counted: finish fails the plan on it
		}
	}
	return true
}

// reference reports whether attr is one of the target's references.
func (t *target) reference(attr string) bool {
	for _, p := range t.policy.Attrs {
		if p.Name == attr {
			return p.Reference
		}
	}
	return false
}
