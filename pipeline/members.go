package pipeline

import (
	"context"
	"fmt"

	"github.com/idsync/idsync/connectors"
	"github.com/idsync/idsync/pipeline/plan"
	"github.com/idsync/idsync/snapshots"
)

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
	req := connectors.Op{Action: batch[0].Action, Object: connectors.Group, Key: name, ID: g.ID, Group: name,
		Members: make([]string, 0, len(batch))}
	sent := make([]plan.Op, 0, len(batch))
	entries := make([]snapshots.Entry, 0, len(batch)) // sent's, for the commit
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
		entries = append(entries, en)
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
	return a.later(func() error { return a.commitBatch(req.Action, name, sent, entries) })
}

// commitBatch commits an acknowledged membership batch and counts it.
func (a *applier) commitBatch(action connectors.Action, name string, sent []plan.Op, entries []snapshots.Entry) error {
	if err := a.e.commitMembers(a.t.cfg.Name, name, sent, entries); err != nil {
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
