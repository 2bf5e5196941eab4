package snapshots

import (
	"bytes"
	"encoding/binary"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"
)

// The index cache keeps a copy of every key's details too: its record
// (famRecord) in each target, its attributes and its groups there, one
// record a key in the same files as the targets' entries (indexfile.go).
//
// A plan reads the stored details of every record it diffs. In Badger
// that is a seek in every level of the tables, whose blocks are read
// through memory maps, and where a first touch of a mapped page is dear
// (10-30 µs on the bench's host) most of a sparse read's time goes
// there: a 10k-record delta plan on the 10M state took 1.20-1.39 s, and
// 0.61-0.70 s with the details not read at all. From the files a key's
// details are one pread of a 4 KB block, about 2.6 µs.
//
// They follow Badger as the entries' copies do (indexcache.go): a commit
// records the keys whose details it writes, those are read back from
// Badger before the files are used again, and a write the cache cannot
// follow (a bulk load, moving groups out of attributes) drops them. No
// scan that a plan makes anyway reads the details, so nothing can copy
// them along the way: a full plan makes them when there are none
// (KeepDetails), a walk of about 1 µs a value, once. Only a store opened
// without compactions walks: the walk maps every table that holds
// details, and only such a store may drop their pages as it goes
// (mapped.go). Others keep the files up to date but do not make them.
//
// Keys holding a NUL are never read from the files: their records can
// sort among another key's (see recordKey), and such keys are rare.

// detailsTarget is the name the index cache keeps the details under. A
// target name holds no NUL, so no target has it.
const detailsTarget = "\x00details"

// writesDetails says whether a change may write its key's details: every
// change of an entry may (see commitOne).
func writesDetails(ch Change) bool { return ch.Batch == 0 && ch.Group == nil }

// detailsReader reads keys' details records (see record) with one
// iterator: a refresh reads thousands, in key order, and an iterator
// costs a merge of every table of the store to make.
type detailsReader struct{ it *badger.Iterator }

func newDetailsReader(txn *badger.Txn) *detailsReader {
	return &detailsReader{it: txn.NewIterator(badger.IteratorOptions{PrefetchValues: false, Prefix: []byte{famRecord}})}
}

func (d *detailsReader) close() { d.it.Close() }

// record is key's details as the files hold them: each of its famRecord
// values, as target, kind and value, in key order. Empty when it has
// none, which in an overlay says they were deleted. It has refresh's
// signature; txn and target are the reader's.
func (d *detailsReader) record(_ *badger.Txn, _, key string) ([]byte, error) {
	prefix := append(append([]byte{famRecord}, key...), 0)
	out := []byte{}
	for d.it.Seek(prefix); d.it.ValidForPrefix(prefix); d.it.Next() {
		target, k, kind, ok := cutRecordKeyBytes(d.it.Item().Key())
		if !ok || string(k) != key {
			continue // a key that key and a NUL begin
		}
		err := d.it.Item().Value(func(v []byte) error {
			out = appendDetail(out, target, kind, v)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func appendDetail(b, target []byte, kind byte, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(target)))
	b = append(append(b, target...), kind)
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// eachDetail calls fn for each value of a details record; target and v
// are valid only during the call.
func eachDetail(rec []byte, fn func(target []byte, kind byte, v []byte) error) error {
	for len(rec) > 0 {
		n, w := binary.Uvarint(rec)
		if w <= 0 || uint64(len(rec)-w) < n+1 {
			return errBadIndexFile
		}
		target, kind := rec[w:w+int(n)], rec[w+int(n)]
		rec = rec[w+int(n)+1:]
		n, w = binary.Uvarint(rec)
		if w <= 0 || uint64(len(rec)-w) < n {
			return errBadIndexFile
		}
		if err := fn(target, kind, rec[w:w+int(n)]); err != nil {
			return err
		}
		rec = rec[w+int(n):]
	}
	return nil
}

// HasDetails reports whether the store has details files, so that
// KeepDetails will only bring them up to date, which reads just the keys
// committed since, rather than walk every key to make them.
func (s *Store) HasDetails() bool { return s.cache.has(detailsTarget) }

// KeepDetails brings the details files up to date, and makes them if
// there are none and the store was opened without compactions, so that
// DetailsOf reads from them; made is how many keys' details it wrote
// when it made them. A full plan calls it once; when they are up to date
// it costs nothing.
func (s *Store) KeepDetails() (made uint64, err error) {
	if s.cache.dir == "" {
		return 0, nil
	}
	t, has, dirty, txn, ok := s.cache.take(s.db, detailsTarget)
	defer txn.Discard()
	if !ok {
		return 0, nil // another is at it
	}
	if has {
		nt, err := s.cache.refresh(txn, detailsTarget, t, dirty)
		if err == nil && s.cache.readable(nt) {
			s.cache.put(detailsTarget, nt, true)
			return 0, nil
		}
		// Files that cannot be read (damaged on disk) are made anew.
		s.cache.discard(nt, t)
	}
	if s.db.Opts().NumCompactors > 0 {
		s.cache.put(detailsTarget, cachedTarget{}, false)
		return 0, nil
	}
	name := s.cache.newFile()
	w, err := createIndexFile(s.cache.path(name), true)
	if err != nil {
		s.cache.put(detailsTarget, cachedTarget{}, false)
		return 0, nil // no files: plans read Badger, as without them
	}
	if err := s.walkDetails(txn, w); err != nil || w.failed {
		w.abort()
		s.cache.put(detailsTarget, cachedTarget{}, false)
		return 0, err // nil when only the file failed
	}
	made = w.records
	ferr := w.finish()
	s.cache.put(detailsTarget, cachedTarget{Base: name, BaseN: made}, ferr == nil)
	return made, nil
}

// walkDetails writes every key's details as of txn to w, but for keys
// that hold a NUL. A key's values are contiguous but for such keys', which
// are passed over: a key that key and a NUL begin sorts among key's. It
// allocates nothing a value: a plan's heap is advised for huge pages
// (pipeline's hugeheap_later.go), and garbage spread over it would count
// in its RSS two megabytes at a time.
func (s *Store) walkDetails(txn *badger.Txn, w *indexWriter) error {
	it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: false, Prefix: []byte{famRecord}})
	defer it.Close()
	var key, rec []byte
	flush := func() {
		if len(rec) > 0 {
			w.tee(key, rec)
		}
		rec = rec[:0]
	}
	n := 0
	for it.Rewind(); it.Valid() && !w.failed; it.Next() {
		s.trimAt(n)
		n++
		target, k, kind, ok := cutRecordKeyBytes(it.Item().Key())
		if !ok {
			return fmt.Errorf("state record %q: %w", it.Item().Key(), errCorrupt)
		}
		if bytes.IndexByte(k, 0) >= 0 {
			continue
		}
		if !bytes.Equal(k, key) {
			flush()
			key = append(key[:0], k...)
		}
		err := it.Item().Value(func(v []byte) error {
			rec = appendDetail(rec, target, kind, v)
			return nil
		})
		if err != nil {
			return err
		}
	}
	flush()
	return nil
}
