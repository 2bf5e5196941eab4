package snapshots

import (
	"bytes"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"
)

// DetailsOf reads target's stored attributes, and with groups its users'
// groups, for each of keys, which must ascend; fn hears each key's in
// order (nil when it has none), and may keep them.
//
// It walks each family with one iterator instead of reading each key on
// its own. When the keys are most of a stretch of state (a policy change
// re-evaluates every record), the next key is usually the iterator's next
// entry, and stepping to it costs a fraction of a point read. For keys
// scattered thinly over state, Details is the cheaper way.
func (s *Store) DetailsOf(target string, keys []string, groups bool, fn func(i int, attrs []byte, groups []string) error) error {
	return s.db.View(func(txn *badger.Txn) error {
		attrs := newCursor(txn, attrsKey(target, ""))
		defer attrs.close()
		var members *cursor
		if groups {
			members = newCursor(txn, membersKey(target, ""))
			defer members.close()
		}
		for i, key := range keys {
			s.trimAt(i)
			a, _, err := attrs.find(key)
			if err != nil {
				return fmt.Errorf("target %s key %q: %w", target, key, err)
			}
			var g []string
			if members != nil {
				v, ok, err := members.find(key)
				if err == nil && ok {
					g, err = decodeGroups(v)
				}
				if err != nil {
					return fmt.Errorf("target %s key %q: %w", target, key, err)
				}
			}
			if err := fn(i, a, g); err != nil {
				return err
			}
		}
		return nil
	})
}

// cursor finds ascending keys of one family with one iterator.
type cursor struct {
	it     *badger.Iterator
	prefix []byte
	want   []byte
	placed bool // the iterator sits at the least key at or after the last one found
}

// cursorSteps is how many entries find steps over before it seeks
// instead: a seek costs about what a point read does.
const cursorSteps = 4

func newCursor(txn *badger.Txn, prefix []byte) *cursor {
	return &cursor{it: txn.NewIterator(badger.IteratorOptions{PrefetchValues: false, Prefix: prefix}), prefix: prefix}
}

func (c *cursor) close() { c.it.Close() }

// find returns key's value, a copy, and whether it has one. Keys must
// come in ascending order.
func (c *cursor) find(key string) ([]byte, bool, error) {
	c.want = append(append(c.want[:0], c.prefix...), key...)
	if c.placed {
		for range cursorSteps {
			if !c.it.Valid() || bytes.Compare(c.it.Item().Key(), c.want) >= 0 {
				break
			}
			c.it.Next()
		}
	}
	if !c.placed || c.it.Valid() && bytes.Compare(c.it.Item().Key(), c.want) < 0 {
		c.it.Seek(c.want)
		c.placed = true
	}
	if !c.it.Valid() || !bytes.Equal(c.it.Item().Key(), c.want) {
		return nil, false, nil
	}
	v, err := c.it.Item().ValueCopy(nil)
	return v, err == nil, err
}
