package snapshots

import (
	"errors"

	badger "github.com/dgraph-io/badger/v4"
)

// Journal writes record an op before it is sent to a target. The state
// commit that follows the target's acknowledgement removes it in the same
// transaction (Change.Journaled), so after a crash the journal holds exactly
// the ops whose outcome is unknown.

// JournalRecord is an op about to be sent, in the caller's encoding.
type JournalRecord struct {
	Key    string
	Record []byte
}

// JournalPut records that ops are about to be sent, in one transaction,
// and marks the target's journal as possibly holding records.
func (s *Store) JournalPut(target string, records ...JournalRecord) error {
	return s.db.Update(func(txn *badger.Txn) error {
		if err := txn.Set(journalMarkKey(target), []byte{1}); err != nil {
			return err
		}
		for _, r := range records {
			if err := txn.Set(journalKey(target, r.Key), r.Record); err != nil {
				return err
			}
		}
		return nil
	})
}

// JournalDelete forgets a journal record (an op that failed for sure, or
// one recovered).
func (s *Store) JournalDelete(target, key string) error {
	return s.db.Update(func(txn *badger.Txn) error { return txn.Delete(journalKey(target, key)) })
}

// JournalScan calls fn for every journal record of target. A journal
// without its mark has none, and is not read at all: every op ever
// journaled left a deletion marker that Badger drops only when compactions
// reach it, and at 10M identities stepping over them took a second, at the
// start of every plan.
func (s *Store) JournalScan(target string, fn func(key string, record []byte) error) error {
	return s.db.View(func(txn *badger.Txn) error {
		if _, err := txn.Get(journalMarkKey(target)); errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		prefix := journalPrefix(target)
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: false, Prefix: prefix})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			rec, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			if err := fn(string(it.Item().Key()[len(prefix):]), rec); err != nil {
				return err
			}
		}
		return nil
	})
}

// JournalSettle removes the mark of a target's journal that holds no
// records any more, so later scans skip it. A JournalPut committed while
// it looks (it sets the mark this reads) makes it conflict, and the mark
// stays.
func (s *Store) JournalSettle(target string) error {
	err := s.db.Update(func(txn *badger.Txn) error {
		if _, err := txn.Get(journalMarkKey(target)); errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: false, Prefix: journalPrefix(target)})
		it.Rewind()
		empty := !it.Valid()
		it.Close()
		if !empty {
			return nil
		}
		return txn.Delete(journalMarkKey(target))
	})
	if errors.Is(err, badger.ErrConflict) {
		return nil
	}
	return err
}
