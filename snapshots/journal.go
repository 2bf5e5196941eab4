package snapshots

import (
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

// JournalPut records that ops are about to be sent, in one transaction.
func (s *Store) JournalPut(target string, records ...JournalRecord) error {
	return s.db.Update(func(txn *badger.Txn) error {
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

// JournalScan calls fn for every journal record of target.
func (s *Store) JournalScan(target string, fn func(key string, record []byte) error) error {
	return s.db.View(func(txn *badger.Txn) error {
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
