package snapshots

import (
	"encoding/binary"
	"errors"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"
)

// GroupEntry is a group idsync created (or adopted) in a target.
type GroupEntry struct {
	Name string
	ID   string
	// Members counts the memberships idsync added and has not removed, so
	// an emptied group can be deleted without reading the target.
	Members int64
}

func (g *GroupEntry) encode() []byte {
	b := binary.BigEndian.AppendUint64([]byte{entryVersion}, uint64(g.Members))
	return append(b, g.ID...)
}

func (g *GroupEntry) decode(b []byte) error {
	if len(b) < 9 || b[0] != entryVersion {
		return fmt.Errorf("%w (group, %d bytes)", errCorrupt, len(b))
	}
	g.Members = int64(binary.BigEndian.Uint64(b[1:]))
	g.ID = string(b[9:])
	return nil
}

// ScanGroups calls fn for every group of target, in name order.
func (s *Store) ScanGroups(target string, fn func(GroupEntry) error) error {
	return s.db.View(func(txn *badger.Txn) error {
		prefix := groupPrefix(target)
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			g := GroupEntry{Name: string(it.Item().Key()[len(prefix):])}
			if err := it.Item().Value(g.decode); err != nil {
				return err
			}
			if err := fn(g); err != nil {
				return err
			}
		}
		return nil
	})
}

// Group returns one group entry.
func (s *Store) Group(target, name string) (GroupEntry, bool, error) {
	g := GroupEntry{Name: name}
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(groupKey(target, name))
		if err != nil {
			return err
		}
		return item.Value(g.decode)
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return GroupEntry{}, false, nil
	}
	return g, err == nil, err
}
