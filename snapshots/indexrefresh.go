package snapshots

import (
	"bytes"
	"errors"
	"slices"

	badger "github.com/dgraph-io/badger/v4"
)

// refresh makes target's files as of txn from files t and the keys
// committed since (dirty): their entries, read back from Badger, become
// the overlay. When the overlay outgrows an eighth of the base, or
// foldBytes, the two are merged into a new base, so a read never merges
// a large overlay, and a refresh, which holds the overlay in memory,
// never holds much.
func (c *indexCache) refresh(txn *badger.Txn, target string, t cachedTarget, dirty map[string]struct{}) (cachedTarget, error) {
	if len(dirty) == 0 {
		return t, nil
	}
	keys := make([]string, 0, len(dirty))
	for k := range dirty {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	read := currentEntry
	if target == detailsTarget {
		d := newDetailsReader(txn)
		defer d.close()
		read = d.record
	}
	fresh := make([]record, len(keys))
	for i, k := range keys {
		fresh[i].key = []byte(k)
		var err error
		if fresh[i].entry, err = read(txn, target, k); err != nil {
			return t, err
		}
	}
	changes := fresh
	if t.Overlay != "" {
		old, err := readRecords(c.path(t.Overlay))
		if err != nil {
			return t, err
		}
		changes = mergeRecords(old, fresh)
	}
	nt := cachedTarget{Base: t.Base, BaseN: t.BaseN, Overlay: c.newFile(), OverlayN: uint64(len(changes))}
	if uint64(len(changes)) > max(foldAt, t.BaseN/8) || recordBytes(changes) > foldBytes {
		nt = cachedTarget{Base: c.newFile()}
		w, err := createIndexFile(c.path(nt.Base), packed(target))
		if err != nil {
			return t, err
		}
		err = readMerged(c.path(t.Base), changes, func(key, entry []byte) error { return w.add(key, entry) })
		if err != nil {
			w.abort()
			return t, err
		}
		nt.BaseN = w.records
		return nt, w.finish()
	}
	return nt, writeRecords(c.path(nt.Overlay), changes, packed(target))
}

// recordBytes is what recs hold in memory, about.
func recordBytes(recs []record) int {
	n := 0
	for _, r := range recs {
		n += len(r.key) + len(r.entry) + 48
	}
	return n
}

// currentEntry is key's record in target's files as of txn: its entry,
// empty when it has none.
func currentEntry(txn *badger.Txn, target, key string) ([]byte, error) {
	item, err := txn.Get(objectKey(target, key))
	switch {
	case errors.Is(err, badger.ErrKeyNotFound):
		return []byte{}, nil // deleted
	case err != nil:
		return nil, err
	}
	return item.ValueCopy(nil)
}

// scan reads target's files: the base with the overlay over it.
func (c *indexCache) scan(t cachedTarget, fn func(key, entry []byte) error) error {
	var changes []record
	if t.Overlay != "" {
		var err error
		if changes, err = readRecords(c.path(t.Overlay)); err != nil {
			return err
		}
	}
	if err := checkIndexFile(c.path(t.Base)); err != nil {
		return err
	}
	return readMerged(c.path(t.Base), changes, fn)
}

// record is one record of an index file, owned.
type record struct{ key, entry []byte }

// readRecords reads a whole (small) index file.
func readRecords(path string) ([]record, error) {
	r, err := openIndexFile(path)
	if err != nil {
		return nil, err
	}
	defer r.close()
	var out []record
	for {
		more, err := r.next()
		if err != nil {
			return nil, err
		}
		if !more {
			return out, nil
		}
		out = append(out, record{key: slices.Clone(r.key), entry: slices.Clone(r.entry)})
	}
}

// packed says whether target's files compress their blocks (fileS2):
// only the details' do.
func packed(target string) bool { return target == detailsTarget }

func writeRecords(path string, recs []record, s2 bool) error {
	w, err := createIndexFile(path, s2)
	if err != nil {
		return err
	}
	for _, r := range recs {
		if err := w.add(r.key, r.entry); err != nil {
			w.abort()
			return err
		}
	}
	return w.finish()
}

// mergeRecords merges two key-ordered lists; newer's record wins a key
// both have.
func mergeRecords(older, newer []record) []record {
	out := make([]record, 0, len(older)+len(newer))
	i, j := 0, 0
	for i < len(older) || j < len(newer) {
		switch {
		case j == len(newer) || (i < len(older) && string(older[i].key) < string(newer[j].key)):
			out = append(out, older[i])
			i++
		default:
			if i < len(older) && string(older[i].key) == string(newer[j].key) {
				i++
			}
			out = append(out, newer[j])
			j++
		}
	}
	return out
}

// readMerged streams the base file at path with changes (key-ordered)
// over it: a change replaces the base's record of its key, and an empty
// entry removes it. The base is not checked first (see checkIndexFile).
func readMerged(path string, changes []record, fn func(key, entry []byte) error) error {
	r, err := openIndexFile(path)
	if err != nil {
		return err
	}
	defer r.close()
	more, err := r.next()
	for err == nil && (more || len(changes) > 0) {
		switch {
		// bytes, not strings.Compare: converting both keys copied them for
		// every record of the base while any change was left.
		case len(changes) > 0 && (!more || bytes.Compare(changes[0].key, r.key) <= 0):
			ch := changes[0]
			changes = changes[1:]
			if more && bytes.Equal(ch.key, r.key) {
				more, err = r.next()
			}
			if len(ch.entry) > 0 {
				if ferr := fn(ch.key, ch.entry); ferr != nil {
					return ferr
				}
			}
		default:
			if ferr := fn(r.key, r.entry); ferr != nil {
				return ferr
			}
			more, err = r.next()
		}
	}
	return err
}
