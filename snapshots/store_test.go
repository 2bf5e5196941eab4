package snapshots

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/google/go-cmp/cmp"
)

// must fails the test on err.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func memStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open("", Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestCommitScanGet(t *testing.T) {
	s := memStore(t)
	put := func(target string, e Entry) {
		t.Helper()
		if err := s.Commit(target, Change{Entry: e}); err != nil {
			t.Fatal(err)
		}
	}
	put("dir", Entry{Key: "E2", ID: "2", Hash: 22, Attrs: []byte(`{"a":2}`)})
	put("dir", Entry{Key: "E1", ID: "1", Hash: 11, Disabled: true, Since: 1700000000, Attrs: []byte(`{"a":1}`)})
	put("dir2", Entry{Key: "E0", ID: "x"}) // another target, whose name extends "dir"

	var keys []string
	err := s.Scan("dir", false, func(e Entry) error {
		if e.Attrs != nil {
			t.Errorf("scan without attributes returned %q", e.Attrs)
		}
		keys = append(keys, e.Key)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"E1", "E2"}, keys); diff != "" {
		t.Errorf("scan order and prefix isolation (-want +got):\n%s", diff)
	}
	got, ok, err := s.Get("dir", "E1")
	want := Entry{Key: "E1", ID: "1", Hash: 11, Disabled: true, Since: 1700000000, Attrs: []byte(`{"a":1}`)}
	if err != nil || !ok {
		t.Fatalf("get: %v %v", ok, err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("get (-want +got):\n%s", diff)
	}
	if _, ok, _ := s.Get("dir", "nobody"); ok {
		t.Errorf("get of a missing key reported found")
	}
	for key, want := range map[string]string{"E1": "1", "E2": "2", "E0": "", "nobody": ""} {
		if id, ok, err := s.ID("dir", key); err != nil || id != want || ok != (want != "") {
			t.Errorf("ID(dir, %s) = %q, %v, %v; want %q", key, id, ok, err, want)
		}
	}
	if n, _ := s.Serial("dir"); n != 2 {
		t.Errorf("serial = %d, want 2 (one per commit)", n)
	}
}

func TestLinksFollowIDsAndDeletes(t *testing.T) {
	s := memStore(t)
	must(t, s.Commit("dir", Change{Entry: Entry{Key: "E1", ID: "1"}}))
	if k, ok, _ := s.KeyForID("dir", "1"); !ok || k != "E1" {
		t.Errorf("link 1 -> %q %v, want E1", k, ok)
	}
	// A re-link to a new id drops the old reverse link.
	must(t, s.Commit("dir", Change{Entry: Entry{Key: "E1", ID: "9"}}))
	if _, ok, _ := s.KeyForID("dir", "1"); ok {
		t.Errorf("old link 1 survived a re-link")
	}
	must(t, s.Commit("dir", Change{Entry: Entry{Key: "E1"}, Delete: true}))
	if _, ok, _ := s.KeyForID("dir", "9"); ok {
		t.Errorf("link 9 survived the delete")
	}
	if _, ok, _ := s.Get("dir", "E1"); ok {
		t.Errorf("entry survived the delete")
	}
}

func TestNewerFormatIsRefused(t *testing.T) {
	dir := t.TempDir()
	db, err := badger.Open(badger.DefaultOptions(dir).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(txn *badger.Txn) error { return txn.Set(versionKey, putUint64(FormatVersion+1)) })
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(dir, Options{})
	if !errors.Is(err, ErrNewerFormat) {
		t.Fatalf("open: err = %v, want ErrNewerFormat", err)
	}
	want := fmt.Sprintf("uses key format v%d, this idsync reads up to v%d", FormatVersion+1, FormatVersion)
	if !strings.Contains(err.Error(), want) {
		t.Errorf("message %q lacks %q", err, want)
	}
}

func TestSecondOpenIsLocked(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := Open(dir, Options{}); !errors.Is(err, ErrLocked) {
		t.Errorf("second open: err = %v, want ErrLocked", err)
	}
}

func TestCorruptEntry(t *testing.T) {
	var e Entry
	if err := e.decode([]byte{9, 9, 9}); !errors.Is(err, errCorrupt) {
		t.Errorf("decode of junk: err = %v, want errCorrupt", err)
	}
}

// TestJournalMarkFollowsRecords: a journal is read while it may hold
// records, and skipped once JournalSettle has found it empty; a settle
// while records remain changes nothing.
func TestJournalMarkFollowsRecords(t *testing.T) {
	s := memStore(t)
	scan := func() []string {
		t.Helper()
		var keys []string
		if err := s.JournalScan("dir", func(key string, _ []byte) error { keys = append(keys, key); return nil }); err != nil {
			t.Fatal(err)
		}
		return keys
	}
	marked := func() bool {
		t.Helper()
		err := s.db.View(func(txn *badger.Txn) error { _, err := txn.Get(journalMarkKey("dir")); return err })
		if err != nil && !errors.Is(err, badger.ErrKeyNotFound) {
			t.Fatal(err)
		}
		return err == nil
	}
	if marked() || len(scan()) != 0 {
		t.Fatalf("a new store has a marked or non-empty journal")
	}
	if err := s.JournalPut("dir", JournalRecord{Key: "E1", Record: []byte("a")}, JournalRecord{Key: "E2", Record: []byte("b")}); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit("dir", Change{Entry: Entry{Key: "E1", ID: "1"}, Journaled: true}); err != nil {
		t.Fatal(err)
	}
	if err := s.JournalSettle("dir"); err != nil {
		t.Fatal(err)
	}
	if got := scan(); !marked() || !slices.Equal(got, []string{"E2"}) {
		t.Fatalf("with E2 journaled: marked %v, scan %v", marked(), got)
	}
	if err := s.JournalDelete("dir", "E2"); err != nil {
		t.Fatal(err)
	}
	if err := s.JournalSettle("dir"); err != nil {
		t.Fatal(err)
	}
	if marked() {
		t.Fatalf("an empty journal kept its mark")
	}
	if err := s.JournalPut("dir", JournalRecord{Key: "E3", Record: []byte("c")}); err != nil {
		t.Fatal(err)
	}
	if got := scan(); !slices.Equal(got, []string{"E3"}) {
		t.Fatalf("after a new record: scan %v", got)
	}
}

// TestJournalBatches: a batch's records read like records of their own,
// keep the journal's mark while any is left, go with the commit that names
// them (or all at once, after recovery), and a damaged one is an error
// that names it.
func TestJournalBatches(t *testing.T) {
	s := memStore(t)
	scan := func() ([]string, error) {
		var got []string
		err := s.JournalScan("dir", func(key string, rec []byte) error { got = append(got, key+"="+string(rec)); return nil })
		return got, err
	}
	n1, err := s.JournalBatch("dir", JournalRecord{Key: "E1", Record: []byte("a")}, JournalRecord{Key: "E2", Record: []byte("")})
	if err != nil {
		t.Fatal(err)
	}
	n2, err := s.JournalBatch("dir", JournalRecord{Key: "E3", Record: []byte("c")})
	if err != nil || n1 == 0 || n2 == 0 || n1 == n2 {
		t.Fatalf("batch numbers %d and %d, %v: want two distinct, non-zero", n1, n2, err)
	}
	if err := s.JournalPut("dir", JournalRecord{Key: "E2", Record: []byte("own")}); err != nil {
		t.Fatal(err)
	}
	if got, err := scan(); err != nil || !slices.Equal(got, []string{"E2=own", "E1=a", "E2=", "E3=c"}) {
		t.Fatalf("scan = %v, %v", got, err)
	}
	if err := s.Commit("dir", Change{Entry: Entry{Key: "E1", ID: "1"}}, Change{Batch: n1}); err != nil {
		t.Fatal(err)
	}
	if err := s.JournalDelete("dir", "E2"); err != nil {
		t.Fatal(err)
	}
	if err := s.JournalSettle("dir"); err != nil {
		t.Fatal(err)
	}
	if got, err := scan(); err != nil || !slices.Equal(got, []string{"E3=c"}) {
		t.Fatalf("after committing batch %d: scan = %v, %v", n1, got, err)
	}
	if err := s.db.Update(func(txn *badger.Txn) error { return txn.Set(batchKey("dir", 99), []byte{5, 'E'}) }); err != nil {
		t.Fatal(err)
	}
	if _, err := scan(); err == nil || !strings.Contains(err.Error(), "target dir: journal batch 99: truncated record") {
		t.Fatalf("a damaged batch: %v", err)
	}
	if err := s.JournalClearBatches("dir"); err != nil {
		t.Fatal(err)
	}
	if err := s.JournalSettle("dir"); err != nil {
		t.Fatal(err)
	}
	err = s.db.View(func(txn *badger.Txn) error { _, err := txn.Get(journalMarkKey("dir")); return err })
	if !errors.Is(err, badger.ErrKeyNotFound) {
		t.Fatalf("the journal kept its mark with no batch left: %v", err)
	}
}

// TestKnownEntriesCommitLikeReadOnes checks Change.Known: a commit that is
// told the entry it replaces leaves exactly the store a commit that reads
// it does (entries, attributes, links, the deprovisioned list, counts),
// over a random run of creates, re-links, status changes and deletes.
func TestKnownEntriesCommitLikeReadOnes(t *testing.T) {
	read, told := memStore(t), memStore(t)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 3000 {
		key := fmt.Sprintf("E%d", rng.IntN(40))
		c := Change{Entry: Entry{Key: key, ID: fmt.Sprint(rng.IntN(5)), Hash: rng.Uint64(), Since: int64(rng.IntN(3)),
			Disabled: rng.IntN(2) == 0, Deprovisioned: rng.IntN(3) == 0}, Delete: rng.IntN(6) == 0}
		if rng.IntN(3) > 0 {
			c.Entry.Attrs = fmt.Appendf(nil, `{"n":%d}`, i)
		}
		if err := read.Commit("dir", c); err != nil {
			t.Fatal(err)
		}
		prev, found, err := told.Get("dir", key)
		if err != nil {
			t.Fatal(err)
		}
		c.Known = &Known{Entry: prev, Found: found}
		if err := told.Commit("dir", c); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff(dump(t, read, nil), dump(t, told, nil)); diff != "" {
		t.Errorf("stores differ (-read +told):\n%s", diff)
	}
	if n, _ := told.Count("dir"); n == 0 {
		t.Error("the run left no entries: it tested nothing")
	}
}

// dump is every key and value in s under prefix (nil: all of them).
func dump(t *testing.T, s *Store, prefix []byte) map[string]string {
	t.Helper()
	out := map[string]string{}
	must(t, s.db.View(func(txn *badger.Txn) error {
		return eachValue(txn, prefix, func(k, v []byte) error { out[string(k)] = string(v); return nil })
	}))
	return out
}

// TestPartsWriteOnlyWhatTheySay checks Change.Parts: groups live under
// their own key; a groups-only change leaves the entry, attributes, link
// and count alone; an entry change leaves the groups; a delete takes them.
func TestPartsWriteOnlyWhatTheySay(t *testing.T) {
	s := memStore(t)
	must(t, s.Commit("dir", Change{Entry: Entry{Key: "E1", ID: "1", Hash: 7, Attrs: []byte(`{"a":1}`)}}))
	must(t, s.Commit("dir", Change{Entry: Entry{Key: "E1", Groups: []string{"g 1", "g\x002"}}, Parts: PartGroups}))
	en, _, _ := s.Get("dir", "E1")
	groups, err := s.Groups("dir", "E1")
	must(t, err)
	if en.ID != "1" || en.Hash != 7 || string(en.Attrs) != `{"a":1}` || !slices.Equal(groups, []string{"g 1", "g\x002"}) {
		t.Errorf("after a groups-only change: %+v, groups %q", en, groups)
	}
	if n, _ := s.Count("dir"); n != 1 {
		t.Errorf("count %d after a groups-only change, want 1", n)
	}
	must(t, s.Commit("dir", Change{Entry: Entry{Key: "E1", ID: "1", Hash: 8, Attrs: []byte(`{"a":2}`)}}))
	if attrs, groups, err := s.Details("dir", "E1", true); err != nil || string(attrs) != `{"a":2}` || len(groups) != 2 {
		t.Errorf("an entry change touched the groups: %s %q %v", attrs, groups, err)
	}
	must(t, s.Commit("dir", Change{Entry: Entry{Key: "E1", ID: "1", Hash: 9, Groups: []string{"x"}}, Parts: PartEntry | PartGroups}))
	if en, _, _ := s.Get("dir", "E1"); en.Hash != 9 || string(en.Attrs) != `{"a":2}` {
		t.Errorf("entry and groups, not attributes: %+v", en)
	}
	must(t, s.Commit("dir", Change{Entry: Entry{Key: "E1"}, Delete: true}))
	if groups, _ := s.Groups("dir", "E1"); groups != nil {
		t.Errorf("groups %q outlived the entry", groups)
	}
}

// TestGroupsOfReadsEachKeysGroups: the batched read returns, key by key
// and in the keys' order, what Groups returns for each, none for a user
// without groups or without an entry.
func TestGroupsOfReadsEachKeysGroups(t *testing.T) {
	s := memStore(t)
	must(t, s.Commit("dir",
		Change{Entry: Entry{Key: "E1", ID: "1", Groups: []string{"a", "b"}}, Parts: PartEntry | PartGroups},
		Change{Entry: Entry{Key: "E2", ID: "2"}},
		Change{Entry: Entry{Key: "E3", ID: "3", Groups: []string{"c"}}, Parts: PartEntry | PartGroups}))
	keys := []string{"E3", "E2", "E9", "E1", "E3"}
	got, err := s.GroupsOf("dir", keys)
	must(t, err)
	want := [][]string{{"c"}, nil, nil, {"a", "b"}, {"c"}}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("GroupsOf(%q) = %q, want %q", keys, got, want)
	}
}
