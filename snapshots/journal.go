package snapshots

import (
	"encoding/binary"
	"errors"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"
)

// Journal writes record an op before it is sent to a target. The state
// commit that follows the target's acknowledgement removes it in the same
// transaction (Change.Journaled), so after a crash the journal holds exactly
// the ops whose outcome is unknown.
//
// A bulk's ops share one record, a batch (JournalBatch), which the commit
// of the bulk's successes removes (Change.Batch). Its other ops are given
// records of their own before that, so no op whose outcome is unknown is
// ever without one: a key may be in a batch and have a record of its own
// at once, and readers take the two as one.

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

// JournalBatch records a bulk's ops as one batch record, before they are
// sent, and returns its number.
func (s *Store) JournalBatch(target string, records ...JournalRecord) (uint64, error) {
	n, err := s.nextNumber()
	if n == 0 && err == nil {
		n, err = s.nextNumber() // 0 is no batch (see Change.Batch); the sequence starts there
	}
	if err != nil {
		return 0, err
	}
	size := 0
	for _, r := range records {
		size += 2*binary.MaxVarintLen64 + len(r.Key) + len(r.Record)
	}
	v := make([]byte, 0, size)
	for _, r := range records {
		v = binary.AppendUvarint(v, uint64(len(r.Key)))
		v = append(v, r.Key...)
		v = binary.AppendUvarint(v, uint64(len(r.Record)))
		v = append(v, r.Record...)
	}
	return n, s.db.Update(func(txn *badger.Txn) error {
		if err := txn.Set(journalMarkKey(target), []byte{1}); err != nil {
			return err
		}
		return txn.Set(batchKey(target, n), v)
	})
}

// JournalDeleteBatch forgets batch record n, once each of its ops is
// committed or has a record of its own.
func (s *Store) JournalDeleteBatch(target string, n uint64) error {
	return s.db.Update(func(txn *badger.Txn) error { return txn.Delete(batchKey(target, n)) })
}

// JournalClearBatches forgets every batch record of target: recovery
// calls it once it has resolved all of their ops.
func (s *Store) JournalClearBatches(target string) error {
	var keys [][]byte
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: false, Prefix: batchPrefix(target)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			keys = append(keys, it.Item().KeyCopy(nil))
		}
		return nil
	})
	if err != nil || len(keys) == 0 {
		return err
	}
	return s.db.Update(func(txn *badger.Txn) error {
		for _, k := range keys {
			if err := txn.Delete(k); err != nil {
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

// JournalScan calls fn for every journal record of target, its own
// records first and then those in batches. A journal without its mark has
// none, and is not read at all: every op ever journaled left a deletion
// marker that Badger drops only when compactions reach it, and at 10M
// identities stepping over them took a second, at the start of every plan.
func (s *Store) JournalScan(target string, fn func(key string, record []byte) error) error {
	return s.db.View(func(txn *badger.Txn) error {
		if _, err := txn.Get(journalMarkKey(target)); errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		prefix := journalPrefix(target)
		err := eachValue(txn, prefix, func(k, rec []byte) error { return fn(string(k[len(prefix):]), rec) })
		if err != nil {
			return err
		}
		bp := batchPrefix(target)
		return eachValue(txn, bp, func(k, v []byte) error {
			if err := scanBatch(v, fn); err != nil {
				return fmt.Errorf("target %s: journal batch %d: %w", target, binary.BigEndian.Uint64(k[len(bp):]), err)
			}
			return nil
		})
	})
}

// eachValue calls fn with each key under prefix and a copy of its value.
func eachValue(txn *badger.Txn, prefix []byte, fn func(key, value []byte) error) error {
	it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: false, Prefix: prefix})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		v, err := it.Item().ValueCopy(nil)
		if err != nil {
			return err
		}
		if err := fn(it.Item().Key(), v); err != nil {
			return err
		}
	}
	return nil
}

// scanBatch calls fn for each record of a batch value.
func scanBatch(v []byte, fn func(key string, record []byte) error) error {
	next := func() ([]byte, error) {
		n, w := binary.Uvarint(v)
		if w <= 0 || n > uint64(len(v)-w) {
			return nil, errors.New("truncated record")
		}
		b := v[w : w+int(n)]
		v = v[w+int(n):]
		return b, nil
	}
	for len(v) > 0 {
		key, err := next()
		if err != nil {
			return err
		}
		rec, err := next()
		if err != nil {
			return err
		}
		if err := fn(string(key), rec); err != nil {
			return err
		}
	}
	return nil
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
		for _, prefix := range [][]byte{journalPrefix(target), batchPrefix(target)} {
			it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: false, Prefix: prefix})
			it.Rewind()
			empty := !it.Valid()
			it.Close()
			if !empty {
				return nil
			}
		}
		return txn.Delete(journalMarkKey(target))
	})
	if errors.Is(err, badger.ErrConflict) {
		return nil
	}
	return err
}
