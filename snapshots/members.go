package snapshots

import (
	"encoding/binary"
	"errors"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"
)

// encodeGroups writes each name with its length before it: group names
// are the operator's, and may hold any byte.
func encodeGroups(groups []string) []byte {
	var b []byte
	for _, g := range groups {
		b = binary.AppendUvarint(b, uint64(len(g)))
		b = append(b, g...)
	}
	return b
}

func decodeGroups(b []byte) ([]string, error) {
	var groups []string
	for len(b) > 0 {
		n, w := binary.Uvarint(b)
		if w <= 0 || uint64(len(b)-w) < n {
			return nil, fmt.Errorf("%w (groups)", errCorrupt)
		}
		groups = append(groups, string(b[w:w+int(n)]))
		b = b[w+int(n):]
	}
	return groups, nil
}

// readGroups fills e's groups from their own key.
func readGroups(txn *badger.Txn, target string, e *Entry) error {
	return readOptional(txn, membersKey(target, e.Key), func(v []byte) error {
		var err error
		if e.Groups, err = decodeGroups(v); err != nil {
			return fmt.Errorf("target %s key %q: %w", target, e.Key, err)
		}
		return nil
	})
}

// Groups returns the groups idsync last put key's user in, in target.
func (s *Store) Groups(target, key string) ([]string, error) {
	e := Entry{Key: key}
	err := s.db.View(func(txn *badger.Txn) error { return readGroups(txn, target, &e) })
	return e.Groups, err
}

// GroupsOf returns the groups of each of keys, as Groups does, read in one
// transaction: a membership batch commits hundreds of users, and a read
// transaction each was two hand-offs to Badger's watermark goroutine per
// member.
func (s *Store) GroupsOf(target string, keys []string) ([][]string, error) {
	groups := make([][]string, len(keys))
	err := s.db.View(func(txn *badger.Txn) error {
		for i, key := range keys {
			e := Entry{Key: key}
			if err := readGroups(txn, target, &e); err != nil {
				return err
			}
			groups[i] = e.Groups
		}
		return nil
	})
	return groups, err
}

// writeGroups stores groups, or removes the key when there are none.
func writeGroups(txn *badger.Txn, target, key string, groups []string) error {
	if len(groups) == 0 {
		return txn.Delete(membersKey(target, key))
	}
	return txn.Set(membersKey(target, key), encodeGroups(groups))
}

// LegacyGroups reports whether users' groups may still sit inside their
// attributes, where stores before v5 kept them; MoveGroups moves them.
func (s *Store) LegacyGroups() (bool, error) {
	found := false
	err := s.db.View(func(txn *badger.Txn) error {
		_, err := txn.Get(legacyGroupsKey)
		found = err == nil
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		return err
	})
	return found, err
}

// MoveGroups finishes the v5 upgrade. split takes an entry's stored
// attributes and returns them without the groups, and the groups; it
// reports false when there were none. The attribute encoding is the
// engine's, so the engine supplies it. Writes go in batches and are
// idempotent (an entry whose attributes hold no groups is left alone), so
// a run killed halfway resumes on the next start; the legacy mark goes
// last.
func (s *Store) MoveGroups(split func(attrs []byte) (rest []byte, groups []string, ok bool, err error)) error {
	defer s.cache.forget(detailsTarget)() // it rewrites every key's details
	err := s.rewriteRecords(kindAttrs, func(wb *badger.WriteBatch, target, key string, item *badger.Item) error {
		v, err := item.ValueCopy(nil)
		if err != nil {
			return err
		}
		rest, groups, ok, err := split(v)
		if err != nil {
			return fmt.Errorf("target %s key %q: stored attributes: %w", target, key, err)
		}
		if !ok {
			return nil
		}
		// The groups before the attributes that drop them: a batch cut
		// short between the two leaves both, and the next run moves them
		// again.
		if len(groups) > 0 {
			if err := wb.Set(membersKey(target, key), encodeGroups(groups)); err != nil {
				return err
			}
		}
		return wb.Set(attrsKey(target, key), rest)
	})
	if err != nil {
		return err
	}
	return s.db.Update(func(txn *badger.Txn) error { return txn.Delete(legacyGroupsKey) })
}
