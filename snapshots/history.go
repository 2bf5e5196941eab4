package snapshots

import (
	"encoding/binary"
	"time"

	badger "github.com/dgraph-io/badger/v4"
)

// History records are the provisioning log: one per op idsync applied or
// failed, kept per source key in time order, and dropped by Badger once
// their retention (a TTL) runs out.

const famHistory = 'h' // h<key>\x00<unix-nanos, 8 bytes><target> -> record

func historyPrefix(key string) []byte { return append(append([]byte{famHistory}, key...), 0) }

// HistoryEntry is one provisioning-log record to store.
type HistoryEntry struct {
	Key, Target string
	At          time.Time
	// Record is the record, encoded (as JSON) by the caller.
	Record []byte
}

// PutHistory appends records, each kept for retention, in one transaction.
func (s *Store) PutHistory(retention time.Duration, entries ...HistoryEntry) error {
	return s.db.Update(func(txn *badger.Txn) error {
		for _, h := range entries {
			k := binary.BigEndian.AppendUint64(historyPrefix(h.Key), uint64(h.At.UnixNano()))
			k = append(k, h.Target...)
			if err := txn.SetEntry(badger.NewEntry(k, h.Record).WithTTL(retention)); err != nil {
				return err
			}
		}
		return nil
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
