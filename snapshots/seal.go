package snapshots

import badger "github.com/dgraph-io/badger/v4"

// Seal guards the fingerprints an apply stores ahead of the ops that
// finish their record's work. A first sync's create stores its record's
// fingerprint at once, though the user's memberships are sent later:
// rewriting the entry at each membership commit, only to store it then,
// was a sixth of the entries a first apply wrote. Until the memberships
// are settled such a fingerprint is provisional, and the seal says so.
//
// Plans mix the epoch into every fingerprint they compute, plus one while
// the seal is open, so an apply that ended before its memberships did (a
// crash, a quarantine, a stop) leaves every stored fingerprint of the
// target stale: the next plan evaluates every record again, as after a
// policy change, and finds the memberships still missing. The next apply
// makes that epoch the current one. A membership that fails clears its
// user's fingerprint itself (the engine does), so a finished apply needs
// no such pass.
type Seal struct {
	Epoch uint64
	// Open is set while an apply that stores fingerprints ahead runs.
	Open bool
}

// Salt is what plans mix into the target's fingerprints (0 for a store
// that never opened a seal, so its fingerprints stay valid).
func (s Seal) Salt() uint64 {
	if s.Open {
		return s.Epoch + 1
	}
	return s.Epoch
}

// Seal returns the target's seal.
func (s *Store) Seal(target string) (Seal, error) {
	var v uint64
	err := s.db.View(func(txn *badger.Txn) (err error) {
		v, err = readUint64(txn, sealKey(target))
		return err
	})
	return Seal{Epoch: v >> 1, Open: v&1 == 1}, err
}

// SetSeal stores the target's seal. It does not move the target's serial:
// the seal changes no object's state.
func (s *Store) SetSeal(target string, seal Seal) error {
	v := seal.Epoch << 1
	if seal.Open {
		v |= 1
	}
	return s.db.Update(func(txn *badger.Txn) error { return txn.Set(sealKey(target), putUint64(v)) })
}
