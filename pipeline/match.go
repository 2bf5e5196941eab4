package pipeline

import (
	"context"
	"fmt"

	"github.com/idsync/idsync/connectors"
	"github.com/idsync/idsync/pipeline/diff"
	"github.com/idsync/idsync/pipeline/plan"
)

// resolveMatches looks up every planned create's match value in the
// target, in batches where the target allows, and turns a create into an
// adoption when exactly one unclaimed object matches. It never guesses:
// several matches, or an object already linked to another identity,
// quarantine the record instead.
func (e *Engine) resolveMatches(ctx context.Context, sr *sourceRun, tr *targetRun, file string) error {
	if len(tr.toMatch) == 0 {
		return nil
	}
	attr := tr.t.policy.Attrs[tr.t.match].Name
	var idx []int
	var values []connectors.Value
	for _, i := range tr.toMatch {
		if v := tr.out.Ops[i].Attrs()[attr]; v != nil && v != "" {
			idx = append(idx, i)
			values = append(values, v)
		}
	}
	found, err := matchAll(ctx, tr.matcher, attr, values)
	if err != nil {
		return fmt.Errorf("target %s: looking up %s: %w", tr.t.cfg.Name, attr, err)
	}
	for k, i := range idx {
		op := &tr.out.Ops[i]
		adopt, err := e.adoption(tr, op, attr, found[k])
		switch {
		case err != nil:
			sr.rejects = append(sr.rejects, plan.Reject{Source: sr.s.cfg.Name, Target: tr.t.cfg.Name, Rule: "match",
				File: file, Line: int(sr.seen.lineOf(op.Key)), Key: op.Key, Reason: err.Error()})
			tr.failed[op.Key] = true
		case adopt != nil:
			hash := op.Hash
			*op = plan.NewOp(*adopt, op.Desired())
			op.Hash = hash
		}
	}
	return nil
}

func matchAll(ctx context.Context, m connectors.Matcher, attr string, values []connectors.Value) ([][]connectors.Object, error) {
	if bm, ok := m.(connectors.BatchMatcher); ok {
		return bm.MatchMany(ctx, attr, values)
	}
	out := make([][]connectors.Object, len(values))
	for i, v := range values {
		objs, err := m.Match(ctx, attr, v)
		if err != nil {
			return nil, err
		}
		out[i] = objs
	}
	return out, nil
}

// adoption decides what a create whose match value found objects becomes.
func (e *Engine) adoption(tr *targetRun, op *plan.Op, attr string, found []connectors.Object) (*connectors.Op, error) {
	desired := op.Attrs()
	value := desired[attr]
	switch len(found) {
	case 0:
		return nil, nil
	case 1:
	default:
		return nil, fmt.Errorf("ambiguous match: %d objects have %s=%v", len(found), attr, value)
	}
	obj := found[0]
	if owner, ok, err := e.store.KeyForID(tr.t.cfg.Name, obj.ID); err != nil {
		return nil, err
	} else if ok && owner != op.Key {
		return nil, fmt.Errorf("match conflict: object %s (%s=%v) is already linked to key %s", obj.ID, attr, value, owner)
	}
	if owner, ok := tr.claimed[obj.ID]; ok {
		return nil, fmt.Errorf("match conflict: object %s (%s=%v) is also matched by key %s in this run", obj.ID, attr, value, owner)
	}
	tr.claimed[obj.ID] = op.Key
	op.SetDesired(desired) // an adoption writes only differences; state keeps the whole
	adopt := diff.Adopt(tr.t.policy, diff.Desired{Key: op.Key, InScope: true, Enabled: !op.Disabled, Attrs: desired}, obj)
	adopt.Disabled = op.Disabled
	return &adopt, nil
}
