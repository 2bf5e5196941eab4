package snapshots

import (
	"encoding/binary"
	"slices"
	"testing"

	badger "github.com/dgraph-io/badger/v4"
)

// legacyKey is a key of one of the per-target families that held
// attributes and groups before v9.
func legacyKey(fam byte, target, key string) []byte {
	return append(append(append([]byte{fam}, target...), 0), key...)
}

// TestV8DetailsMoveKeyFirst writes attributes and groups where v8 kept
// them, one of them already moved as by an upgrade killed halfway, and
// checks that Open moves every one to famRecord, leaves nothing behind,
// and reads the same details back, for keys that hold a NUL too.
func TestV8DetailsMoveKeyFirst(t *testing.T) {
	dir := t.TempDir()
	db, err := badger.Open(badger.DefaultOptions(dir).WithLogger(nil))
	must(t, err)
	type stored struct {
		target, key, attrs string
		groups             []string
	}
	want := []stored{
		{"dir", "E1", `{"a":1}`, []string{"g1", "g2"}},
		{"app", "E1", `{"b":1}`, nil},
		{"dir", "E1\x00x", `{"a":2}`, []string{"g\x00"}},
		{"dir", "E2", `{"a":3}`, nil},
		{"app", "E3", "", []string{"only groups"}},
	}
	err = db.Update(func(txn *badger.Txn) error {
		for _, w := range want {
			if err := txn.Set(objectKey(w.target, w.key), (&Entry{Key: w.key, ID: w.target + w.key}).encode()); err != nil {
				return err
			}
			if w.attrs != "" {
				if err := txn.Set(legacyKey(famAttrs, w.target, w.key), []byte(w.attrs)); err != nil {
					return err
				}
			}
			if w.groups != nil {
				if err := txn.Set(legacyKey(famMembers, w.target, w.key), encodeGroups(w.groups)); err != nil {
					return err
				}
			}
		}
		// Moved already, by a run that stopped before deleting the old key.
		if err := txn.Set(attrsKey("dir", "E2"), []byte(`{"a":3}`)); err != nil {
			return err
		}
		return txn.Set(versionKey, binary.BigEndian.AppendUint64(nil, 8))
	})
	must(t, err)
	must(t, db.Close())

	s, err := Open(dir, Options{})
	must(t, err)
	defer s.Close()
	for _, w := range want {
		attrs, groups, err := s.Details(w.target, w.key, true)
		must(t, err)
		if string(attrs) != w.attrs || !slices.Equal(groups, w.groups) {
			t.Errorf("%s %q after the upgrade: %s %q, want %s %q", w.target, w.key, attrs, groups, w.attrs, w.groups)
		}
	}
	counts := map[byte]int{}
	err = s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: false})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			counts[it.Item().Key()[0]]++
		}
		item, err := txn.Get(versionKey)
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error {
			if got := binary.BigEndian.Uint64(v); got != FormatVersion {
				t.Errorf("version after the upgrade: %d, want %d", got, FormatVersion)
			}
			return nil
		})
	})
	must(t, err)
	if counts[famAttrs] != 0 || counts[famMembers] != 0 || counts[famRecord] != 7 {
		t.Errorf("keys after the upgrade: %d attributes, %d groups left in the old families; %d in famRecord, want 7", counts[famAttrs], counts[famMembers], counts[famRecord])
	}
}

// TestRecordKeysCut checks that cutRecordKey undoes recordKey, for keys
// that hold NULs and are empty.
func TestRecordKeysCut(t *testing.T) {
	for _, key := range []string{"E1", "E1\x00x", "\x00", "", "a\x00b\x00c"} {
		for _, kind := range []byte{kindAttrs, kindGroups} {
			target, got, gotKind, ok := cutRecordKey(recordKey("dir", key, kind))
			if !ok || target != "dir" || got != key || gotKind != kind {
				t.Errorf("cut(recordKey(dir, %q, %c)) = %q %q %c %v", key, kind, target, got, gotKind, ok)
			}
		}
	}
	for _, bad := range []string{"", "r", "rE1", "oE1\x00dir\x00a", "rE1\x00a"} {
		if _, _, _, ok := cutRecordKey([]byte(bad)); ok {
			t.Errorf("cut(%q) accepted a key recordKey never makes", bad)
		}
	}
}
