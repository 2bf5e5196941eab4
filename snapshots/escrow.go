package snapshots

import (
	"encoding/json"
	"errors"

	badger "github.com/dgraph-io/badger/v4"
)

// Escrow is a failed op waiting for its next try. The op itself is not
// stored: the engine derives it again from the source each run; escrow
// only says when it may be sent, and why the last try failed.
type Escrow struct {
	Key      string `json:"-"`
	Action   string `json:"action"`
	Error    string `json:"error"`
	Attempts int    `json:"attempts"`
	// First and Last are when it first and last failed; NextRetry when it
	// may be tried again (Unix seconds).
	First     int64 `json:"first"`
	Last      int64 `json:"last"`
	NextRetry int64 `json:"nextRetry"`
	// Dropped entries are not retried until an operator releases them.
	Dropped bool `json:"dropped,omitempty"`
}

// PutEscrow stores an escrow entry.
func (s *Store) PutEscrow(target string, e Escrow) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return s.db.Update(func(txn *badger.Txn) error { return txn.Set(escrowKey(target, e.Key), b) })
}

// DeleteEscrow removes the entry for key, if any.
func (s *Store) DeleteEscrow(target, key string) error {
	return s.db.Update(func(txn *badger.Txn) error { return txn.Delete(escrowKey(target, key)) })
}

// GetEscrow returns the entry for key.
func (s *Store) GetEscrow(target, key string) (Escrow, bool, error) {
	e := Escrow{Key: key}
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(escrowKey(target, key))
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error { return json.Unmarshal(v, &e) })
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return Escrow{}, false, nil
	}
	return e, err == nil, err
}

// ScanEscrow calls fn for every escrow entry of target, in key order.
func (s *Store) ScanEscrow(target string, fn func(Escrow) error) error {
	return s.db.View(func(txn *badger.Txn) error {
		prefix := escrowPrefix(target)
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			e := Escrow{Key: string(it.Item().Key()[len(prefix):])}
			if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &e) }); err != nil {
				return err
			}
			if err := fn(e); err != nil {
				return err
			}
		}
		return nil
	})
}

// Quarantine is a target the engine stopped sending to.
type Quarantine struct {
	Reason string `json:"reason"`
	// Since and Until are Unix seconds; a run after Until probes the
	// target again.
	Since int64 `json:"since"`
	Until int64 `json:"until"`
	// Strikes counts quarantines in a row; each doubles the wait.
	Strikes int `json:"strikes"`
}

// Quarantine returns the target's quarantine record.
func (s *Store) Quarantine(target string) (Quarantine, bool, error) {
	var q Quarantine
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(quarantineKey(target))
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error { return json.Unmarshal(v, &q) })
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return Quarantine{}, false, nil
	}
	return q, err == nil, err
}

// SetQuarantine stores (or, with nil, clears) the target's quarantine.
func (s *Store) SetQuarantine(target string, q *Quarantine) error {
	return s.db.Update(func(txn *badger.Txn) error {
		if q == nil {
			return txn.Delete(quarantineKey(target))
		}
		b, err := json.Marshal(q)
		if err != nil {
			return err
		}
		return txn.Set(quarantineKey(target), b)
	})
}
