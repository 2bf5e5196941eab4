package snapshots

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	badger "github.com/dgraph-io/badger/v4"
)

// DetailsRead names a target whose stored details DetailsOf reads: its
// attributes, and with Groups its users' groups.
type DetailsRead struct {
	Target string
	Groups bool
}

// DetailsOf reads stored details for keys, which must ascend: for each
// key, in each of targets where want(i, t) says so. fn hears each in key
// order (nil attributes or groups where there are none), and may keep
// what it is given.
//
// The keys' details come from the index cache's files where those are
// up to date (detailscache.go); cached says for how many keys. The rest
// come from Badger, where a key's details in every target sit side by
// side (famRecord), and it reads them all with one iterator instead of
// point reads. When the keys are most of a stretch of state (a policy
// change re-evaluates every record), the next key is usually the
// iterator's next entry too, and stepping to it costs a fraction of a
// point read. For keys scattered thinly over state, Details is the
// cheaper way.
func (s *Store) DetailsOf(targets []DetailsRead, keys []string, want func(i, t int) bool, fn func(i, t int, attrs []byte, groups []string) error) (cached int, err error) {
	// In target order, each key's values are read in ascending key order.
	order := make([]int, len(targets))
	for t := range order {
		order[t] = t
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(targets[a].Target, targets[b].Target) })
	files, dirty := s.cache.view(detailsTarget, keys)
	defer func() {
		if files != nil {
			files.release()
		}
		s.cache.details.Add(int64(cached))
	}()
	err = s.db.View(func(txn *badger.Txn) error {
		c := newCursor(txn, []byte{famRecord})
		defer c.close()
		reads := 0 // trims count values read, not keys: a key has one in each target
		var values []detail
		for i, key := range keys {
			if files != nil && (dirty == nil || !dirty[i]) && strings.IndexByte(key, 0) < 0 {
				rec, _, err := files.find(key)
				if err == nil {
					if values, err = parseDetails(rec, values[:0]); err == nil {
						cached++
						if err := detailsFrom(values, targets, order, i, key, want, fn); err != nil {
							return err
						}
						continue
					}
				}
				// A damaged file: the rest come from Badger, and the next
				// full plan makes the files anew.
				files.release()
				files = nil
				s.cache.forget(detailsTarget)()
			}
			for _, t := range order {
				if !want(i, t) {
					continue
				}
				s.trimAt(reads)
				reads++
				target := targets[t].Target
				attrs, _, err := c.find(attrsKey(target, key))
				var groups []string
				if err == nil && targets[t].Groups {
					var v []byte
					var ok bool
					if v, ok, err = c.find(membersKey(target, key)); err == nil && ok {
						groups, err = decodeGroups(v)
					}
				}
				if err != nil {
					return fmt.Errorf("target %s key %q: %w", target, key, err)
				}
				if err := fn(i, t, attrs, groups); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return cached, err
}

// detail is one value of a details record; target and v point into it.
type detail struct {
	target []byte
	kind   byte
	v      []byte
}

func parseDetails(rec []byte, into []detail) ([]detail, error) {
	err := eachDetail(rec, func(target []byte, kind byte, v []byte) error {
		into = append(into, detail{target, kind, v})
		return nil
	})
	return into, err
}

// detailsFrom calls fn for key, the ith, in each of targets want names,
// in order, with its values in a details record, as DetailsOf does from
// Badger.
func detailsFrom(values []detail, targets []DetailsRead, order []int, i int, key string, want func(i, t int) bool,
	fn func(i, t int, attrs []byte, groups []string) error) error {
	for _, t := range order {
		if !want(i, t) {
			continue
		}
		var attrs []byte
		var groups []string
		for _, d := range values {
			if string(d.target) != targets[t].Target {
				continue
			}
			switch {
			case d.kind == kindAttrs:
				attrs = bytes.Clone(d.v)
			case d.kind == kindGroups && targets[t].Groups:
				var err error
				if groups, err = decodeGroups(d.v); err != nil {
					return fmt.Errorf("target %s key %q: %w", targets[t].Target, key, err)
				}
			}
		}
		if err := fn(i, t, attrs, groups); err != nil {
			return err
		}
	}
	return nil
}

// cursor finds keys of one family with one iterator, cheapest when they
// come in ascending order.
type cursor struct {
	it   *badger.Iterator
	last []byte // the key found last
	// placed is true once the iterator sits at the least key at or after
	// last.
	placed bool
}

// cursorSteps is how many entries find steps over before it seeks
// instead: a seek costs about what a point read does.
const cursorSteps = 4

func newCursor(txn *badger.Txn, prefix []byte) *cursor {
	return &cursor{it: txn.NewIterator(badger.IteratorOptions{PrefetchValues: false, Prefix: prefix})}
}

func (c *cursor) close() { c.it.Close() }

// find returns key's value, a copy, and whether it has one. A key below
// the last one costs a seek back: a source key may hold bytes that sort
// its famRecord keys out of the order of the keys themselves.
func (c *cursor) find(key []byte) ([]byte, bool, error) {
	if c.placed && bytes.Compare(key, c.last) < 0 {
		c.placed = false
	}
	c.last = key
	if c.placed {
		for range cursorSteps {
			if !c.it.Valid() || bytes.Compare(c.it.Item().Key(), key) >= 0 {
				break
			}
			c.it.Next()
		}
	}
	if !c.placed || c.it.Valid() && bytes.Compare(c.it.Item().Key(), key) < 0 {
		c.it.Seek(key)
		c.placed = true
	}
	if !c.it.Valid() || !bytes.Equal(c.it.Item().Key(), key) {
		return nil, false, nil
	}
	v, err := c.it.Item().ValueCopy(nil)
	return v, err == nil, err
}
