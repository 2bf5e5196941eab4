package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/idsync/idsync/connectors"
	"github.com/idsync/idsync/connectors/attrjson"
	"github.com/idsync/idsync/pipeline/plan"
	"github.com/idsync/idsync/snapshots"
)

// journal records user ops before they are sent, in one transaction. Its
// state commit removes each record in the same transaction as the op's
// new state; a record still there on the next start is an op whose
// outcome is unknown, which recover resolves. Group ops are not journaled:
// creating a group is idempotent in every target (a 409 adopts it), and
// memberships are diffed as sets.
//
// A record holds the action and key only. Recovery sets state to what the
// target holds, for creates as for every other op, so the op's values are
// not needed: journaling them was most of the bytes a first apply wrote
// and dropped again, and put initial passwords in state.
func (e *Engine) journal(target string, ops ...plan.Op) error {
	records := journalRecords(ops)
	if len(records) == 0 {
		return nil
	}
	return e.store.JournalPut(target, records...)
}

// journalBatch records a bulk's user ops as one batch record and returns
// its number (0 if there were none): see settleMany for how it is removed.
func (e *Engine) journalBatch(target string, ops []plan.Op) (uint64, error) {
	records := journalRecords(ops)
	if len(records) == 0 {
		return 0, nil
	}
	return e.store.JournalBatch(target, records...)
}

func journalRecords(ops []plan.Op) []snapshots.JournalRecord {
	records := make([]snapshots.JournalRecord, 0, len(ops))
	for _, op := range ops {
		if op.Object != connectors.User {
			continue
		}
		rec := plan.NewOp(connectors.Op{Action: op.Action, Key: op.Key}, nil)
		records = append(records, snapshots.JournalRecord{Key: op.Key, Record: appendJournalOp(nil, &rec)})
	}
	return records
}

// appendJournalOp appends op as encoding/json writes it, which recover
// reads back (TestJournalJSON holds the two to the same bytes): apply
// journals every op it sends, and reflection made that 2.5% of a first
// apply's CPU.
func appendJournalOp(b []byte, op *plan.Op) []byte {
	b = append(b, `{"action":`...)
	b = attrjson.AppendString(b, op.Action.String())
	if op.Object != connectors.User {
		b = append(b, `,"object":`...)
		b = attrjson.AppendString(b, op.Object.String())
	}
	if op.Disabled {
		b = append(b, `,"disabled":true`...)
	}
	b = append(b, `,"key":`...)
	b = attrjson.AppendString(b, op.Key)
	b = attrjson.AppendField(b, "id", op.ID())
	if changes := op.Changes(); len(changes) > 0 {
		b = append(b, `,"changes":`...)
		b = appendChanges(b, changes)
	}
	b = attrjson.AppendField(b, "reason", op.Reason)
	b = attrjson.AppendField(b, "group", op.Group)
	b = attrjson.AppendField(b, "version", op.Version())
	if members := op.Members(); len(members) > 0 {
		b = append(b, `,"members":`...)
		b = attrjson.AppendValue(b, members)
	}
	if desired := op.Desired(); len(desired) > 0 {
		b = append(b, `,"desired":`...)
		b = attrjson.AppendAttrs(b, desired)
	}
	if op.Hash != 0 {
		b = append(b, `,"hash":`...)
		b = strconv.AppendUint(b, op.Hash, 10)
	}
	return append(b, '}')
}

// recover resolves every journaled op of t before planning, so the plan
// starts from what the target really holds:
//
//   - a create whose object exists (found by its source key) is linked, as
//     if its answer had arrived; one that never landed is forgotten, and
//     the plan creates it again;
//   - any other op may or may not have landed, so state is set to what
//     the target now holds (read back by id), and the plan re-diffs
//     against that: a disable that landed is not mistaken for an active
//     object, an update that landed is not sent again. An object gone is
//     forgotten.
func (e *Engine) recover(ctx context.Context, t *target) error {
	type pending struct {
		key string
		op  plan.Op
	}
	var todo []pending
	// A key can be in a batch and have a record of its own; the scan
	// gives its own record first, which is the later.
	seen := make(map[string]bool)
	err := e.store.JournalScan(t.cfg.Name, func(key string, rec []byte) error {
		var op plan.Op
		if err := json.Unmarshal(rec, &op); err != nil {
			return fmt.Errorf("target %s: journal record for %q: %w", t.cfg.Name, key, err)
		}
		if !seen[key] {
			seen[key] = true
			todo = append(todo, pending{key, op})
		}
		return nil
	})
	if err != nil || len(todo) == 0 {
		return err
	}
	conn, err := e.target(ctx, t)
	if err != nil {
		return err
	}
	log := e.opts.Log.With("target", t.cfg.Name)
	for _, p := range todo {
		if p.op.Action != connectors.Create {
			log.Info("recovery: op with unknown outcome; reading the object back", "key", p.key, "action", p.op.Action.String())
			if err := e.resync(ctx, t, conn, p.key); err != nil {
				return err
			}
			continue
		}
		found, err := findCreated(ctx, conn, p.key)
		if err != nil {
			return fmt.Errorf("target %s: recovering the create of %s: %w", t.cfg.Name, p.key, err)
		}
		switch len(found) {
		case 0:
			log.Info("recovery: create never landed; it will be planned again", "key", p.key)
			err = e.store.JournalDelete(t.cfg.Name, p.key)
		case 1:
			log.Info("recovery: create had landed; linked", "key", p.key, "id", found[0].ID)
			err = e.commitUser(t.cfg.Name, landed(t, p.key, found[0]), connectors.Result{ID: found[0].ID}, nil)
		default:
			err = fmt.Errorf("target %s: %d objects carry source key %s; link one by hand (idsync never guesses)", t.cfg.Name, len(found), p.key)
		}
		if err != nil {
			return err
		}
	}
	if err := e.store.JournalClearBatches(t.cfg.Name); err != nil {
		return err
	}
	return e.store.JournalSettle(t.cfg.Name)
}

// resync sets key's state to what the target holds and clears its journal
// record, in one commit.
func (e *Engine) resync(ctx context.Context, t *target, conn connectors.Target, key string) error {
	e.commitMu.Lock()
	defer e.commitMu.Unlock()
	en, ok, err := e.store.Get(t.cfg.Name, key)
	if err != nil {
		return err
	}
	r, canRead := conn.(connectors.Reader)
	if !ok || !canRead {
		// Nothing linked, or nothing to read: the fingerprint is cleared so
		// the record is evaluated again, and the op derived again.
		en.Hash = 0
		if !ok {
			return e.store.JournalDelete(t.cfg.Name, key)
		}
		return e.store.Commit(t.cfg.Name, snapshots.Change{Entry: en, Journaled: true})
	}
	obj, err := r.Get(ctx, en.ID)
	if errors.Is(err, connectors.ErrNotFound) {
		return e.store.Commit(t.cfg.Name, snapshots.Change{Entry: snapshots.Entry{Key: key}, Delete: true, Journaled: true})
	}
	if err != nil {
		return err
	}
	attrs, version, err := decodeState(en.Attrs)
	if err != nil {
		return err
	}
	for _, a := range t.policy.Attrs {
		if !a.Reference { // references are stored as source keys, not target ids
			attrs[a.Name] = obj.Attrs[a.Name]
		}
	}
	if obj.Disabled != en.Disabled {
		en.Disabled, en.Since = obj.Disabled, e.opts.Now.Unix()
		en.Deprovisioned = obj.Disabled // a disable with unknown outcome was a deprovision or inactivity; either way plan decides
	}
	en.Hash = 0
	if version != "" {
		attrs[versionAttr] = version
	}
	if en.Attrs, err = encodeAttrs(attrs); err != nil {
		return err
	}
	return e.store.Commit(t.cfg.Name, snapshots.Change{Entry: en, Journaled: true})
}

// landed is the create that made obj, as recovery commits it: with the
// values the target holds, and no fingerprint, so the record is evaluated
// again next run.
func landed(t *target, key string, obj connectors.Object) plan.Op {
	op := connectors.Op{Action: connectors.Create, Key: key, Disabled: obj.Disabled}
	for _, a := range t.policy.Attrs {
		if v := obj.Attrs[a.Name]; !a.Reference && v != nil && v != "" {
			op.Changes = append(op.Changes, connectors.Change{Attr: a.Name, New: v})
		}
	}
	return plan.NewOp(op, nil)
}

func findCreated(ctx context.Context, conn connectors.Target, key string) ([]connectors.Object, error) {
	kf, ok := conn.(connectors.KeyFinder)
	if !ok {
		return nil, nil // cannot tell: plan again; a match rule adopts a duplicate-to-be
	}
	return kf.FindKey(ctx, key)
}
