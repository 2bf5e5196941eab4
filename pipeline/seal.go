package pipeline

import (
	"context"
	"errors"

	"github.com/idsync/idsync/connectors"
	"github.com/idsync/idsync/snapshots"
)

// A first sync's creates store their records' fingerprints ahead of the
// users' memberships (see targetRun.fingerprint), under the target's seal
// (snapshots.Seal). The applier opens the seal before it sends anything,
// clears the fingerprint of every user whose membership fails, and closes
// the seal only when every op had its outcome.

// openSeal readies the target's seal for this apply. A seal an earlier
// apply left open moves to the epoch its plans salted with, which the
// fingerprints stored ahead by that apply do not match; it opens again
// while this plan's creates store theirs ahead.
func (a *applier) openSeal() error {
	seal, err := a.e.store.Seal(a.t.cfg.Name)
	if err != nil {
		return err
	}
	next := snapshots.Seal{Epoch: seal.Salt(), Open: a.pt.Ahead > 0}
	if next == seal {
		return nil
	}
	return a.e.store.SetSeal(a.t.cfg.Name, next)
}

// closeSeal closes the seal once every op of the apply had its outcome, so
// that the fingerprints it stored are trusted. An apply stopped (by its
// caller, or by quarantine) leaves it open: ops it never sent have no
// outcome, and the next plan evaluates every record again.
func (a *applier) closeSeal(ctx context.Context) error {
	a.mu.Lock()
	kept := a.sealKept
	a.mu.Unlock()
	if a.pt.Ahead == 0 || kept || ctx.Err() != nil {
		return nil
	}
	seal, err := a.e.store.Seal(a.t.cfg.Name)
	if err != nil || !seal.Open {
		return err
	}
	return a.e.store.SetSeal(a.t.cfg.Name, snapshots.Seal{Epoch: seal.Epoch})
}

// unsettled clears the fingerprint of a user whose membership failed: its
// create may have stored it ahead, and the next run must evaluate the
// record again to send the membership again. The caller poisoned the key
// first, so no commit after this one stores it again (see
// Engine.commitMembers). A stopped apply's memberships are left to the
// seal, which stays open. A clear that fails keeps the seal open too.
func (a *applier) unsettled(op connectors.Op, err error) {
	if op.Action != connectors.AddMember && op.Action != connectors.RemoveMember || errors.Is(err, context.Canceled) {
		return
	}
	if err := a.e.clearFingerprint(a.t.cfg.Name, op.Key); err != nil {
		a.log.Error("clearing the fingerprint of a failed membership; the seal stays open", "key", op.Key, "err", err)
		a.mu.Lock()
		a.sealKept = true
		a.mu.Unlock()
	}
}

// clearFingerprint clears key's stored fingerprint, if it has one.
func (e *Engine) clearFingerprint(target, key string) error {
	e.commitMu.Lock()
	defer e.commitMu.Unlock()
	en, ok, err := e.store.Get(target, key)
	if err != nil || !ok || en.Hash == 0 {
		return err
	}
	known := &snapshots.Known{Entry: en, Found: true}
	en.Hash = 0
	return e.store.Commit(target, snapshots.Change{Entry: en, Parts: snapshots.PartEntry, Known: known})
}
