package pipeline

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/idsync/idsync/connectors"
	"github.com/idsync/idsync/pipeline/diff"
	"github.com/idsync/idsync/pipeline/plan"
)

// uniquePick is one identity's unique attributes still to choose.
type uniquePick struct {
	key   string
	attrs []uniqueAttr
}

type uniqueAttr struct {
	name       string
	candidates []string
}

// pinUnique settles selectUnique attributes where it can: an object keeps
// its current value while that is still a candidate, so nobody is renamed
// because a namesake left. Otherwise the first candidate stands in until
// resolveUniques picks for real.
func (tr *targetRun) pinUnique(d *diff.Desired, stored *diff.Stored) uniquePick {
	pick := uniquePick{key: d.Key}
	if !d.InScope {
		return pick
	}
	for _, j := range tr.t.unique {
		p := tr.t.policy
		name := p.Attrs[j].Name
		cands, _ := d.Value(p, j).([]string)
		switch {
		case stored != nil && slices.Contains(cands, fmt.Sprint(stored.Attrs[name])):
			d.Set(p, j, stored.Attrs[name])
		case len(cands) == 0:
			d.Set(p, j, nil)
		default:
			d.Set(p, j, cands[0])
			pick.attrs = append(pick.attrs, uniqueAttr{name: name, candidates: cands})
		}
	}
	return pick
}

// resolveUniques picks each pending unique value: the first candidate that
// no other object in the target holds and no other identity took earlier in
// this run. Identities are served in key order, so the outcome does not
// depend on the order of the input file. When every candidate is taken, the
// record is quarantined with the candidates it tried.
func (e *Engine) resolveUniques(ctx context.Context, sr *sourceRun, tr *targetRun, file string) error {
	if len(tr.picks) == 0 {
		return nil
	}
	slices.SortFunc(tr.picks, func(a, b uniquePick) int { return strings.Compare(a.key, b.key) })
	holders, err := e.lookupCandidates(ctx, tr)
	if err != nil {
		return err
	}
	opsOf := map[string][]int{} // key -> its user ops, so each pick patches only its own
	for i, op := range tr.out.Ops {
		if op.Object == connectors.User {
			opsOf[op.Key] = append(opsOf[op.Key], i)
		}
	}
	claimed := map[string]string{} // attr + "\x00" + folded value -> key
	for _, p := range tr.picks {
		ie, _, err := tr.index.get(p.key)
		if err != nil {
			return err
		}
		own := ie.id.String()
		for _, ua := range p.attrs {
			chosen := ""
			for _, c := range ua.candidates {
				slot := ua.name + "\x00" + strings.ToLower(c)
				if owner, ok := claimed[slot]; ok && owner != p.key {
					continue
				}
				if slices.ContainsFunc(holders[slot], func(id string) bool { return id != own }) {
					continue
				}
				chosen, claimed[slot] = c, p.key
				break
			}
			if chosen == "" {
				sr.rejects = append(sr.rejects, plan.Reject{Source: sr.s.cfg.Name, Target: tr.t.cfg.Name, Rule: "attributes." + ua.name,
					File: file, Line: int(sr.seen.lineOf(p.key)), Key: p.key,
					Reason: fmt.Sprintf("no unique value free: %s are all taken", strings.Join(ua.candidates, ", "))})
				tr.failed[p.key] = true
				break
			}
			tr.setValue(opsOf[p.key], ua.name, chosen)
		}
	}
	return nil
}

// lookupCandidates asks the target, in one batch per attribute, which
// objects hold each candidate value. The result maps attr+"\x00"+folded
// value to the holders' ids.
func (e *Engine) lookupCandidates(ctx context.Context, tr *targetRun) (map[string][]string, error) {
	byAttr := map[string][]connectors.Value{}
	for _, p := range tr.picks {
		for _, ua := range p.attrs {
			for _, c := range ua.candidates {
				byAttr[ua.name] = append(byAttr[ua.name], c)
			}
		}
	}
	holders := map[string][]string{}
	for attr, values := range byAttr {
		found, err := matchAll(ctx, tr.matcher, attr, values)
		if err != nil {
			return nil, fmt.Errorf("target %s: looking up %s values: %w", tr.t.cfg.Name, attr, err)
		}
		for i, objs := range found {
			slot := attr + "\x00" + strings.ToLower(fmt.Sprint(values[i]))
			for _, o := range objs {
				if !slices.Contains(holders[slot], o.ID) {
					holders[slot] = append(holders[slot], o.ID)
				}
			}
		}
	}
	return holders, nil
}

// setValue writes a chosen value into the given planned ops.
func (tr *targetRun) setValue(ops []int, attr string, v string) {
	for _, i := range ops {
		op := &tr.out.Ops[i]
		changes := op.Changes() // the op's own: set in place
		for j := range changes {
			if changes[j].Attr == attr {
				changes[j].New = v
			}
		}
		if desired := op.Desired(); desired != nil {
			desired[attr] = v
		}
	}
}
