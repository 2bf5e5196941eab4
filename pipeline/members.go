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
	fail := func(op plan.Op, err error) { a.fail(op.Op(), err) }
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
	found, err := a.memberEntries(target, batch)
	if err != nil {
		return err
	}
	var missing []plan.Op
	for i, op := range batch {
		if found[i].ID == "" {
			missing = append(missing, op)
			continue
		}
		req.Members = append(req.Members, found[i].ID)
		sent = append(sent, a.fingerprint(op))
		entries = append(entries, found[i])
	}
	for _, op := range missing {
		fail(op, fmt.Errorf("member %s has no object in the target", op.Key))
	}
	if len(sent) == 0 {
		return nil
	}
	if _, err := a.send(ctx, req); err != nil {
		for _, op := range sent {
			fail(op, err)
		}
		return nil
	}
	return a.later(func() error { return a.commitBatch(req.Action, name, sent, entries) })
}

// memberEntries returns the state entry of each member of batch, with no
// ID for one that has none: from what this apply's creates committed where
// it can (see createdIndex), and from the store for the rest, in one read
// transaction.
func (a *applier) memberEntries(target string, batch []plan.Op) ([]snapshots.Entry, error) {
	found := make([]snapshots.Entry, len(batch))
	var keys []string
	var at []int
	from := 0
	for i, op := range batch {
		if a.created != nil {
			var ok bool
			if found[i], from, ok = a.created.find(op.Key, from); ok {
				continue
			}
		}
		keys, at = append(keys, op.Key), append(at, i)
	}
	if len(keys) == 0 {
		return found, nil
	}
	j := 0
	err := a.e.store.Lookup(target, keys, func(en snapshots.Entry, ok bool) error {
		if ok {
			found[at[j]] = en
		}
		j++
		return nil
	})
	return found, err
}

// commitBatch commits an acknowledged membership batch and counts it.
func (a *applier) commitBatch(action connectors.Action, name string, sent []plan.Op, entries []snapshots.Entry) error {
	if err := a.e.commitMembers(a.t.cfg.Name, name, sent, entries, a.created, a.isPoisoned); err != nil {
		return err
	}
	a.e.metric(func(m *Metrics) {
		m.applyOps.WithLabelValues(a.t.cfg.Name, action.String(), "applied").Add(float64(len(sent)))
	})
	room := 0
	for _, op := range sent {
		room += recordRoom(op.Op())
	}
	log := newHistoryLog(len(sent), room)
	for _, op := range sent {
		log.add(a, op.Op())
	}
	log.write(a)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.rep.Applied[action] += len(sent)
	return nil
}
