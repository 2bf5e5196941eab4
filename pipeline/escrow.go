package pipeline

import (
	"github.com/idsync/idsync/connectors"
	"github.com/idsync/idsync/snapshots"
)

// escrow records a failed op. Each failure in a row doubles the wait
// before the next try, from escrowFirst up to escrowMax; until then plans
// list the op as escrowed instead of sending it.
func (e *Engine) escrow(target string, op connectors.Op, cause error) error {
	e.commitMu.Lock()
	defer e.commitMu.Unlock()
	es, ok, err := e.store.GetEscrow(target, op.Key)
	if err != nil {
		return err
	}
	now := e.opts.Now.Unix()
	if !ok {
		es = snapshots.Escrow{Key: op.Key, First: now}
	}
	es.Action, es.Error, es.Last = op.Action.String(), cause.Error(), now
	es.Attempts++
	es.NextRetry = now + int64(min(escrowFirst<<min(es.Attempts-1, 20), escrowMax).Seconds())
	return e.store.PutEscrow(target, es)
}

// Escrow lists a target's escrow, for `idsync state escrow`.
func (e *Engine) Escrow(target string) ([]snapshots.Escrow, error) {
	var out []snapshots.Escrow
	err := e.store.ScanEscrow(target, func(es snapshots.Escrow) error {
		out = append(out, es)
		return nil
	})
	return out, err
}

// ReleaseEscrow makes a key's escrowed op due now (and un-drops it).
func (e *Engine) ReleaseEscrow(target, key string) (bool, error) {
	return e.editEscrow(target, key, func(es *snapshots.Escrow) { es.NextRetry, es.Dropped = e.opts.Now.Unix(), false })
}

// DropEscrow stops retrying a key's op until it is released.
func (e *Engine) DropEscrow(target, key string) (bool, error) {
	return e.editEscrow(target, key, func(es *snapshots.Escrow) { es.Dropped = true })
}

func (e *Engine) editEscrow(target, key string, edit func(*snapshots.Escrow)) (bool, error) {
	e.commitMu.Lock()
	defer e.commitMu.Unlock()
	es, ok, err := e.store.GetEscrow(target, key)
	if err != nil || !ok {
		return false, err
	}
	edit(&es)
	return true, e.store.PutEscrow(target, es)
}
