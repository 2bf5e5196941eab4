package snapshots

import (
	"encoding/binary"
	"encoding/json"
	"time"

	badger "github.com/dgraph-io/badger/v4"
)

// History records are the provisioning log: one per op idsync applied or
// failed, kept per source key in time order, and dropped by Badger once
// their retention (a TTL) runs out.

const famHistory = 'h' // h<key>\x00<unix-nanos, 8 bytes><target> -> record

func historyPrefix(key string) []byte { return append(append([]byte{famHistory}, key...), 0) }

// PutHistory appends a record for key, kept for retention.
func (s *Store) PutHistory(key, target string, at time.Time, record any, retention time.Duration) error {
	b, err := json.Marshal(record)
	if err != nil {
		return err
	}
	k := binary.BigEndian.AppendUint64(historyPrefix(key), uint64(at.UnixNano()))
	k = append(k, target...)
	return s.db.Update(func(txn *badger.Txn) error {
		return txn.SetEntry(badger.NewEntry(k, b).WithTTL(retention))
	})
}

// ScanHistory calls fn with every record of key since the given time, in
// time order.
func (s *Store) ScanHistory(key string, since time.Time, fn func(record []byte) error) error {
	return s.db.View(func(txn *badger.Txn) error {
		prefix := historyPrefix(key)
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		start := binary.BigEndian.AppendUint64(append([]byte{}, prefix...), uint64(max(since.UnixNano(), 0)))
		for it.Seek(start); it.Valid(); it.Next() {
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			if err := fn(v); err != nil {
				return err
			}
		}
		return nil
	})
}
