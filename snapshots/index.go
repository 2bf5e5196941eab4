package snapshots

import (
	"encoding/binary"
	"errors"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"
)

// Count is how many entries target has, without scanning them.
func (s *Store) Count(target string) (int, error) {
	var n uint64
	err := s.db.View(func(txn *badger.Txn) error {
		var err error
		n, err = readUint64(txn, countKey(target))
		return err
	})
	return int(n), err
}

// Lookup calls fn for each of keys with its entry (without attributes) and
// whether target has one. One read transaction serves them all: a delta
// run looks up only the keys it read instead of scanning every entry.
//
// When target's index cache files are up to date but for some keys
// (dirty), the others are read from the files: a point read in Badger
// faults in pages of several tables' maps, which on a 10M-entry state
// was a third of a delta plan's page faults. Files that turn out damaged
// leave the rest of the keys to Badger, and are dropped: the next full
// read makes them anew.
func (s *Store) Lookup(target string, keys []string, fn func(e Entry, ok bool) error) error {
	files, dirty := s.cache.view(target, keys)
	defer func() {
		if files != nil {
			files.release()
		}
	}()
	return s.db.View(func(txn *badger.Txn) error {
		for i, key := range keys {
			e := Entry{Key: key}
			if files != nil && (dirty == nil || !dirty[i]) {
				v, ok, err := files.find(key)
				if err == nil {
					s.cache.lookups.Add(1)
					if ok {
						if err := e.decode(v); err != nil {
							return fmt.Errorf("target %s key %q: %w", target, key, err)
						}
					}
					if err := fn(e, ok); err != nil {
						return err
					}
					continue
				}
				files.release()
				files = nil
				s.cache.forget(target)() // the next full read makes them anew
			}
			s.trimAt(i)
			item, err := txn.Get(objectKey(target, key))
			switch {
			case errors.Is(err, badger.ErrKeyNotFound):
				if err := fn(e, false); err != nil {
					return err
				}
				continue
			case err != nil:
				return err
			}
			if err := item.Value(e.decode); err != nil {
				return fmt.Errorf("target %s key %q: %w", target, key, err)
			}
			if err := fn(e, true); err != nil {
				return err
			}
		}
		return nil
	})
}

// ID returns the target id key's entry links to, reading the entry only:
// resolving a reference needs no attributes, and reading them as well
// doubled the cost of a first sync's reference updates.
func (s *Store) ID(target, key string) (id string, ok bool, err error) {
	err = s.Lookup(target, []string{key}, func(e Entry, found bool) error {
		id, ok = e.ID, found
		return nil
	})
	return id, ok, err
}

// ScanIndex calls fn for every entry of target in key order, without
// attributes and without copying: key and e.ID are valid only during the
// call. Planning loads millions of entries this way into its own compact
// index. It reads the target's cache files when they are up to date
// (indexcache.go), and otherwise scans Badger and writes new ones.
func (s *Store) ScanIndex(target string, fn func(key []byte, e *IndexEntry) error) error {
	_, err := s.ScanIndexFrom(target, fn)
	return err
}

// Scanned says where a scan's entries came from.
type Scanned struct {
	// FromCache: the cache files, not Badger. A plan counts it (a cache
	// that is never used costs a full plan a third more CPU, and would
	// otherwise go unseen).
	FromCache bool
	// Gen is the generation of the files that hold exactly the entries
	// scanned, 0 when none do: what a file derived from them is stamped
	// with (WriteDerived).
	Gen uint64
}

// ScanIndexFrom is ScanIndex, and says where the entries came from.
func (s *Store) ScanIndexFrom(target string, fn func(key []byte, e *IndexEntry) error) (Scanned, error) {
	if s.cache.dir == "" {
		return Scanned{}, s.db.View(func(txn *badger.Txn) error { return s.scanIndexAt(txn, target, nil, fn) })
	}
	t, has, dirty, txn, ok := s.cache.take(s.db, target)
	defer txn.Discard()
	if !ok {
		return Scanned{}, s.scanIndexAt(txn, target, nil, fn)
	}
	if has {
		if done, gen, err := s.readCached(txn, target, t, dirty, fn); done {
			return Scanned{FromCache: err == nil, Gen: gen}, err
		}
		// Files that cannot be read are made again, from Badger.
	}
	gen, err := s.scanToCache(txn, target, fn)
	return Scanned{Gen: gen}, err
}

// HasIndexFiles reports whether target's entries have files, which a
// full scan then reads (refreshed for the keys committed since) instead
// of walking Badger to make them.
func (s *Store) HasIndexFiles(target string) bool { return s.cache.has(target) }

// readCached brings target's files up to date as of txn and reads them.
// done is false when they could not be read, before fn saw any entry;
// gen is the files' generation when they are kept.
func (s *Store) readCached(txn *badger.Txn, target string, t cachedTarget, dirty map[string]struct{},
	fn func(key []byte, e *IndexEntry) error) (done bool, gen uint64, err error) {
	delivered := false
	var e IndexEntry
	nt, err := s.cache.refresh(txn, target, t, dirty)
	if err == nil {
		err = s.cache.scan(nt, func(key, entry []byte) error {
			delivered = true
			if _, err := e.decode(entry); err != nil {
				return fmt.Errorf("target %s key %q: %w", target, key, err)
			}
			return fn(key, &e)
		})
	}
	if err != nil && !delivered {
		return false, 0, err
	}
	gen = s.cache.put(target, nt, err == nil)
	if err == nil {
		s.cache.reads.Add(1)
	}
	return true, gen, err
}

// scanToCache scans target in Badger as of txn, writing new files on the
// way when it can, and says their generation when it kept them.
func (s *Store) scanToCache(txn *badger.Txn, target string, fn func(key []byte, e *IndexEntry) error) (gen uint64, err error) {
	name := s.cache.newFile()
	w, err := createIndexFile(s.cache.path(name), false)
	if err != nil {
		w = nil // the scan needs no cache
	}
	err = s.scanIndexAt(txn, target, w, fn)
	switch {
	case w == nil:
		s.cache.put(target, cachedTarget{}, false)
	case err != nil || w.failed:
		w.abort()
		s.cache.put(target, cachedTarget{}, false)
	default:
		ferr := w.finish()
		gen = s.cache.put(target, cachedTarget{Base: name, BaseN: w.records}, ferr == nil)
	}
	return gen, err
}

// scanIndexAt is ScanIndex from Badger, as of txn, copying each entry to
// w when there is one.
func (s *Store) scanIndexAt(txn *badger.Txn, target string, w *indexWriter, fn func(key []byte, e *IndexEntry) error) error {
	prefix := objectPrefix(target)
	it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: false, Prefix: prefix})
	defer it.Close()
	var e IndexEntry
	n := 0
	for it.Rewind(); it.Valid(); it.Next() {
		s.trimAt(n)
		n++
		item := it.Item()
		key := item.Key()[len(prefix):]
		err := item.Value(func(v []byte) error {
			if _, err := e.decode(v); err != nil {
				return fmt.Errorf("target %s key %q: %w", target, key, err)
			}
			if w != nil {
				w.tee(key, v)
			}
			return fn(key, &e)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// ScanDeprovisioned calls fn for every deprovisioned entry of target (key
// and since), in key order, reading only those.
func (s *Store) ScanDeprovisioned(target string, fn func(key string, since int64) error) error {
	return s.db.View(func(txn *badger.Txn) error {
		prefix := deprovPrefix(target)
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: false, Prefix: prefix})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			key := string(item.Key()[len(prefix):])
			var since int64
			err := item.Value(func(v []byte) error {
				if len(v) != 8 {
					return fmt.Errorf("target %s key %q: %w (deprovisioned list)", target, key, errCorrupt)
				}
				since = int64(binary.BigEndian.Uint64(v))
				return nil
			})
			if err != nil {
				return err
			}
			if err := fn(key, since); err != nil {
				return err
			}
		}
		return nil
	})
}
