package snapshots

import (
	"bytes"

	badger "github.com/dgraph-io/badger/v4"
)

// migrateV1 upgrades a v1 store to v2 by deriving what v2 adds (entry
// counts and the deprovisioned list) from the entries. It writes in
// batches, since a large store exceeds one transaction, and sets the new
// version last: a run killed halfway leaves a v1 store that migrates again,
// and every write here is idempotent.
func (s *Store) migrateV1() error {
	counts := map[string]uint64{}
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: false, Prefix: []byte{famObject}})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			target, key, ok := bytes.Cut(item.Key()[1:], []byte{0})
			if !ok {
				continue
			}
			counts[string(target)]++
			var e Entry
			if err := item.Value(func(v []byte) error { return e.decode(v, false) }); err != nil {
				return err
			}
			if e.Deprovisioned {
				if err := wb.Set(deprovKey(string(target), string(key)), putUint64(uint64(e.Since))); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for target, n := range counts {
		if err := wb.Set(countKey(target), putUint64(n)); err != nil {
			return err
		}
	}
	if err := wb.Flush(); err != nil {
		return err
	}
	return s.db.Update(func(txn *badger.Txn) error { return txn.Set(versionKey, putUint64(FormatVersion)) })
}
