package snapshots

import (
	"bytes"
	"runtime"

	badger "github.com/dgraph-io/badger/v4"
)

// migrate upgrades a store from an older key format to the current one:
//
//   - v2 added entry counts and the deprovisioned list, derived from the
//     entries;
//   - v3 moved each entry's attributes to a key of their own;
//   - v4 marks the journals that may hold records;
//   - v5 keeps users' groups under their own key; the engine moves them
//     out of the attributes (see MoveGroups), marked here as to do;
//   - v6 stores new provisioning-log records apart from their history
//     keys (see history.go); the records already there still read;
//   - v7 journals a bulk's ops in one record (see journal.go); older
//     builds would not see those records, hence the new version;
//   - v8 compresses new provisioning-log values (see history.go); the
//     values already there still read, and older builds could not read
//     the new ones;
//   - v9 keys attributes and groups by the source key first (famRecord),
//     moved here from their families.
//   - v10 finds new provisioning-log values through filters of their keys
//     instead of a history key per record (see logfilter.go); the records
//     already there still read, and older builds would not see the new
//     ones.
//   - v11 lets a create store its record's fingerprint before the user's
//     memberships are sent, guarded by the target's seal (see seal.go);
//     older builds would trust such a fingerprint after a crash, and
//     never send those memberships.
//
// Only the upgrades to rewritten and before rewrite entries, and need
// Badger's compactions on; the later ones write a few keys, and so run as
// the store was opened. A plan opens it without compactions. A 10M store
// upgraded from v9 to v10 with them on compacted its tables during that
// plan, the first full one after the upgrade: 84.7 s at a 5.9 GB peak.
// With them off it took 57.4 s at 718 MB, as a first plan without an
// upgrade did (57.4 s, 753 MB).
//
// It writes in batches, since a large store exceeds one transaction, and
// sets the new version last: a run killed halfway leaves the old version,
// which migrates again, and every write here is idempotent.
// rewritten is the last format version whose upgrade rewrites entries.
const rewritten = 9

func (s *Store) migrate(from uint64) error {
	if from < 3 {
		if err := s.migrateEntries(from); err != nil {
			return err
		}
	}
	if from < 9 {
		if err := s.moveRecords(); err != nil {
			return err
		}
	}
	if err := s.markJournals(); err != nil {
		return err
	}
	err := s.db.Update(func(txn *badger.Txn) error {
		if from < 5 {
			// The groups still sit in the attributes, whose encoding is the
			// engine's: it moves them (MoveGroups) before it reads any.
			if err := txn.Set(legacyGroupsKey, []byte{1}); err != nil {
				return err
			}
		}
		return txn.Set(versionKey, putUint64(FormatVersion))
	})
	if err != nil {
		return err
	}
	if from < 3 {
		// The rewrite left an old version of most keys behind; every scan
		// would step over them until compactions caught up. Compact now, once.
		return s.db.Flatten(runtime.GOMAXPROCS(0))
	}
	return nil
}

// markJournals sets the mark of every target whose journal holds a
// record (v4): without one, JournalScan would skip them.
func (s *Store) markJournals() error {
	return s.db.Update(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: false, Prefix: []byte{famJourn}})
		defer it.Close()
		it.Rewind()
		for it.Valid() {
			t, _, ok := bytes.Cut(it.Item().KeyCopy(nil)[1:], []byte{0})
			if !ok {
				it.Next()
				continue
			}
			if err := txn.Set(journalMarkKey(string(t)), []byte{1}); err != nil {
				return err
			}
			// On to the next target: its keys sort after t + 0x01.
			it.Seek(append(append([]byte{famJourn}, t...), 1))
		}
		return nil
	})
}

// migrateEntries does the v1 and v2 upgrades, in one pass over the
// entries.
func (s *Store) migrateEntries(from uint64) error {
	counts := map[string]uint64{}
	err := s.rewriteFamily(famObject, func(wb *badger.WriteBatch, target, key string, item *badger.Item) error {
		var ix IndexEntry
		var attrs []byte
		err := item.Value(func(v []byte) error {
			rest, err := ix.decode(v)
			attrs = bytes.Clone(rest)
			return err
		})
		if err != nil {
			return err
		}
		e := Entry{Key: key, ID: string(ix.ID), Disabled: ix.Disabled, Deprovisioned: ix.Deprovisioned, Hash: ix.Hash, Since: ix.Since}
		if from < 2 {
			counts[target]++
			if e.Deprovisioned {
				if err := wb.Set(deprovKey(target, key), putUint64(uint64(e.Since))); err != nil {
					return err
				}
			}
		}
		if len(attrs) == 0 {
			return nil
		}
		// A v1 or v2 entry with its attributes inline.
		if err := wb.Set(attrsKey(target, key), attrs); err != nil {
			return err
		}
		return wb.Set(objectKey(target, key), e.encode())
	})
	if err != nil {
		return err
	}
	return s.db.Update(func(txn *badger.Txn) error {
		for target, n := range counts {
			if err := txn.Set(countKey(target), putUint64(n)); err != nil {
				return err
			}
		}
		return nil
	})
}

// moveRecords does the v9 upgrade: every attribute set and every user's
// groups move from their family (target first) to famRecord (key first).
// The old families go last, whole: Badger drops the tables that hold
// only them instead of taking a deletion for every key, whose tombstones
// and old values stayed in the tables until compactions reached them
// (1M identities upgraded in 55 s instead of 72, and the 10M state kept
// 116 tables of them). A run killed before that copies again.
func (s *Store) moveRecords() error {
	for _, m := range []struct {
		fam  byte
		kind byte
	}{{famAttrs, kindAttrs}, {famMembers, kindGroups}} {
		err := s.rewriteFamily(m.fam, func(wb *badger.WriteBatch, target, key string, item *badger.Item) error {
			v, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			return wb.Set(recordKey(target, key, m.kind), v)
		})
		if err != nil {
			return err
		}
	}
	return s.db.DropPrefix([]byte{famAttrs}, []byte{famMembers})
}

// rewriteFamily calls fn with the target, key and item of every entry of
// one per-target key family, and a write batch for what it rewrites,
// flushed at the end: the upgrades rewrite more than one transaction
// holds. fn must be idempotent, since a run killed halfway starts over.
func (s *Store) rewriteFamily(fam byte, fn func(wb *badger.WriteBatch, target, key string, item *badger.Item) error) error {
	return s.rewrite(fam, cutTargetKey, fn)
}

// rewriteRecords is rewriteFamily for famRecord's values of one kind.
func (s *Store) rewriteRecords(kind byte, fn func(wb *badger.WriteBatch, target, key string, item *badger.Item) error) error {
	return s.rewrite(famRecord, func(k []byte) (string, string, bool) {
		target, key, got, ok := cutRecordKey(k)
		return target, key, ok && got == kind
	}, fn)
}

// rewrite walks family fam, whose keys cut splits, for rewriteFamily and
// rewriteRecords; keys cut refuses are skipped.
func (s *Store) rewrite(fam byte, cut func(k []byte) (target, key string, ok bool), fn func(wb *badger.WriteBatch, target, key string, item *badger.Item) error) error {
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: false, Prefix: []byte{fam}})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			target, key, ok := cut(it.Item().Key())
			if !ok {
				continue
			}
			if err := fn(wb, target, key, it.Item()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return wb.Flush()
}
