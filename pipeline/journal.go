package pipeline

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/idsync/idsync/connectors"
	"github.com/idsync/idsync/pipeline/plan"
)

// journal records a user op before it is sent. Its state commit removes
// the record in the same transaction; a record still there on the next
// start is an op whose outcome is unknown, which recover resolves.
// Group ops are not journaled: creating a group is idempotent in every
// target (a 409 adopts it), and memberships are diffed as sets.
func (e *Engine) journal(target string, op plan.Op) error {
	if op.Object != connectors.User {
		return nil
	}
	rec, err := json.Marshal(op)
	if err != nil {
		return err
	}
	return e.store.JournalPut(target, op.Key, rec)
}

// recover resolves every journaled op of t before planning, so the plan
// starts from what the target really holds:
//
//   - a create whose object exists (found by its source key) is linked, as
//     if its answer had arrived; one that never landed is forgotten, and
//     the plan creates it again;
//   - any other op is forgotten: state still shows the object as before,
//     so the plan derives the op again, and sending it twice is harmless
//     (an update sets the same values; a delete of a missing object
//     succeeds).
func (e *Engine) recover(ctx context.Context, t *target) error {
	type pending struct {
		key string
		op  plan.Op
	}
	var todo []pending
	err := e.store.JournalScan(t.cfg.Name, func(key string, rec []byte) error {
		var op plan.Op
		if err := json.Unmarshal(rec, &op); err != nil {
			return fmt.Errorf("target %s: journal record for %q: %w", t.cfg.Name, key, err)
		}
		todo = append(todo, pending{key, op})
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
			log.Info("recovery: op with unknown outcome will be planned again", "key", p.key, "action", p.op.Action.String())
			if err := e.store.JournalDelete(t.cfg.Name, p.key); err != nil {
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
			p.op.Hash = 0 // evaluate the record again next time
			err = e.commitUser(t.cfg.Name, p.op, connectors.Result{ID: found[0].ID}, nil)
		default:
			err = fmt.Errorf("target %s: %d objects carry source key %s; link one by hand (idsync never guesses)", t.cfg.Name, len(found), p.key)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func findCreated(ctx context.Context, conn connectors.Target, key string) ([]connectors.Object, error) {
	kf, ok := conn.(connectors.KeyFinder)
	if !ok {
		return nil, nil // cannot tell: plan again; a match rule adopts a duplicate-to-be
	}
	return kf.FindKey(ctx, key)
}
