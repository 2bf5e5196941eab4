package snapshots

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// derived is what the count, the deprovisioned list and the reverse
// links must say, computed from a full scan of the entries.
type derived struct {
	Count  int
	Deprov map[string]int64
	Links  map[string]string // id -> key
}

func scanDerived(t *testing.T, s *Store, target string) derived {
	t.Helper()
	d := derived{Deprov: map[string]int64{}, Links: map[string]string{}}
	err := s.Scan(target, false, func(e Entry) error {
		d.Count++
		if e.Deprovisioned {
			d.Deprov[e.Key] = e.Since
		}
		d.Links[e.ID] = e.Key
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func storedDerived(t *testing.T, s *Store, target string) derived {
	t.Helper()
	d := derived{Deprov: map[string]int64{}, Links: map[string]string{}}
	prefix := append(append([]byte{famLink}, target...), 0)
	for k, v := range dump(t, s, prefix) {
		d.Links[k[len(prefix):]] = v
	}
	n, err := s.Count(target)
	must(t, err)
	d.Count = n
	must(t, s.ScanDeprovisioned(target, func(key string, since int64) error {
		d.Deprov[key] = since
		return nil
	}))
	return d
}

// TestCountAndDeprovisionedFollowEveryCommit drives random creates,
// updates, deprovisions, re-enables and deletes (including deletes of
// missing keys and several changes of one key in one commit) and checks
// the stored count and deprovisioned list against a full scan after each.
func TestCountAndDeprovisionedFollowEveryCommit(t *testing.T) {
	s := memStore(t)
	r := rand.New(rand.NewPCG(7, 7))
	for i := range 400 {
		var changes []Change
		for range 1 + r.IntN(4) {
			key := fmt.Sprintf("E%d", r.IntN(30))
			if r.IntN(4) == 0 {
				changes = append(changes, Change{Entry: Entry{Key: key}, Delete: true})
				continue
			}
			dep := r.IntN(2) == 0
			id := fmt.Sprintf("id-%s-%d", key, r.IntN(2)) // the id changes now and then, as after a re-create
			changes = append(changes, Change{Entry: Entry{Key: key, ID: id, Disabled: dep, Deprovisioned: dep, Since: int64(r.IntN(3))}})
		}
		target := []string{"dir", "dir2"}[r.IntN(2)]
		if err := s.Commit(target, changes...); err != nil {
			t.Fatal(err)
		}
		for _, tg := range []string{"dir", "dir2"} {
			if diff := cmp.Diff(scanDerived(t, s, tg), storedDerived(t, s, tg)); diff != "" {
				t.Fatalf("commit %d, target %s: stored count/deprovisioned differ from a scan (-scan +stored):\n%s", i, tg, diff)
			}
		}
	}
}

func TestLookup(t *testing.T) {
	s := memStore(t)
	if err := s.Commit("dir", Change{Entry: Entry{Key: "E1", ID: "1", Hash: 5, Attrs: []byte("x")}}); err != nil {
		t.Fatal(err)
	}
	var got []string
	err := s.Lookup("dir", []string{"E2", "E1"}, func(e Entry, ok bool) error {
		got = append(got, fmt.Sprintf("%s %v %s %d %q", e.Key, ok, e.ID, e.Hash, e.Attrs))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{`E2 false  0 ""`, `E1 true 1 5 ""`}, got); diff != "" {
		t.Errorf("lookup (-want +got):\n%s", diff)
	}
}

// TestOldStoresAreUpgraded writes entries the way v1 and v2 did (v1: no
// count, no deprovisioned list; both: attributes inline after the id) and
// checks that Open derives what later versions keep, and moves the
// attributes to their own keys without changing what Get returns.
func TestOldStoresAreUpgraded(t *testing.T) {
	for _, from := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprint("v", from), func(t *testing.T) {
			dir := t.TempDir()
			db, err := badger.Open(badger.DefaultOptions(dir).WithLogger(nil))
			if err != nil {
				t.Fatal(err)
			}
			entries := []Entry{{Key: "E1", ID: "1", Attrs: []byte(`{"a":1}`)}, {Key: "E2", ID: "2", Disabled: true, Deprovisioned: true, Since: 99},
				{Key: "E3", ID: "3", Hash: 3, Attrs: []byte(`{"b":2}`)}}
			targets := []string{"dir", "dir", "app"}
			err = db.Update(func(txn *badger.Txn) error {
				for i, e := range entries {
					if err := txn.Set(objectKey(targets[i], e.Key), append(e.encode(), e.Attrs...)); err != nil {
						return err
					}
					if from == 3 && len(e.Attrs) > 0 { // v3 keeps them apart
						if err := txn.Set(objectKey(targets[i], e.Key), e.encode()); err != nil {
							return err
						}
						if err := txn.Set(legacyKey(famAttrs, targets[i], e.Key), e.Attrs); err != nil {
							return err
						}
					}
				}
				// An op of unknown outcome, journaled before v4 marked journals.
				if err := txn.Set(journalKey("app", "E9"), []byte("op")); err != nil {
					return err
				}
				if from >= 2 { // v2 kept counts and the deprovisioned list
					for _, kv := range [][2][]byte{{countKey("dir"), putUint64(2)}, {countKey("app"), putUint64(1)}, {deprovKey("dir", "E2"), putUint64(99)}} {
						if err := txn.Set(kv[0], kv[1]); err != nil {
							return err
						}
					}
				}
				return txn.Set(versionKey, putUint64(from))
			})
			db.Close()
			if err != nil {
				t.Fatal(err)
			}
			s, err := Open(dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if diff := cmp.Diff(derived{Count: 2, Deprov: map[string]int64{"E2": 99}, Links: map[string]string{}}, storedDerived(t, s, "dir")); diff != "" {
				t.Errorf("dir after upgrade (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(derived{Count: 1, Deprov: map[string]int64{}, Links: map[string]string{}}, storedDerived(t, s, "app")); diff != "" {
				t.Errorf("app after upgrade (-want +got):\n%s", diff)
			}
			var journaled []string
			for _, target := range []string{"dir", "app"} {
				if err := s.JournalScan(target, func(key string, _ []byte) error {
					journaled = append(journaled, target+"/"+key)
					return nil
				}); err != nil {
					t.Fatal(err)
				}
			}
			if !slices.Equal(journaled, []string{"app/E9"}) {
				t.Errorf("journal after upgrade: %v, want [app/E9]", journaled)
			}
			for i, want := range entries {
				got, ok, err := s.Get(targets[i], want.Key)
				if err != nil || !ok {
					t.Fatalf("get %s: %v %v", want.Key, ok, err)
				}
				if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("entry %s after upgrade (-want +got):\n%s", want.Key, diff)
				}
			}
		})
	}
}

func TestLoadMatchesCommits(t *testing.T) {
	s := memStore(t)
	entries := []Entry{{Key: "E1", ID: "1", Hash: 7}, {Key: "E2", ID: "2", Disabled: true, Deprovisioned: true, Since: 5}}
	i := 0
	err := s.Load("dir", func() (Entry, bool) {
		if i == len(entries) {
			return Entry{}, false
		}
		i++
		return entries[i-1], true
	})
	if err != nil {
		t.Fatal(err)
	}
	want := derived{Count: 2, Deprov: map[string]int64{"E2": 5}, Links: map[string]string{"1": "E1", "2": "E2"}}
	if diff := cmp.Diff(want, storedDerived(t, s, "dir")); diff != "" {
		t.Errorf("after load (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, scanDerived(t, s, "dir")); diff != "" {
		t.Errorf("entries after load (-want +got):\n%s", diff)
	}
	if err := s.Load("dir", func() (Entry, bool) { return Entry{}, false }); err == nil {
		t.Errorf("a second load into a target with entries succeeded")
	}
}

func TestScanIndexMatchesScan(t *testing.T) {
	s := memStore(t)
	err := s.Commit("dir", Change{Entry: Entry{Key: "E1", ID: "1", Hash: 5, Attrs: []byte("{}")}},
		Change{Entry: Entry{Key: "E2", ID: "22", Disabled: true, Deprovisioned: true, Since: 9}})
	if err != nil {
		t.Fatal(err)
	}
	var want, got []Entry
	if err := s.Scan("dir", false, func(e Entry) error { want = append(want, e); return nil }); err != nil {
		t.Fatal(err)
	}
	err = s.ScanIndex("dir", func(key []byte, e *IndexEntry) error {
		got = append(got, Entry{Key: string(key), ID: string(e.ID), Disabled: e.Disabled, Deprovisioned: e.Deprovisioned, Hash: e.Hash, Since: e.Since})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != 2 {
		t.Fatalf("scan found %d entries, want 2", len(want))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ScanIndex differs from Scan (-scan +index):\n%s", diff)
	}
}

// TestAttributesLiveAndDieWithTheirEntry: attributes kept apart from the
// entry are replaced, cleared and deleted with it.
func TestAttributesLiveAndDieWithTheirEntry(t *testing.T) {
	s := memStore(t)
	step := func(c Change, want []byte, wantOK bool) {
		t.Helper()
		if err := s.Commit("dir", c); err != nil {
			t.Fatal(err)
		}
		got, ok, err := s.Get("dir", "E1")
		if err != nil || ok != wantOK || string(got.Attrs) != string(want) {
			t.Fatalf("after %+v: get = %q, %v, %v; want %q, %v", c, got.Attrs, ok, err, want, wantOK)
		}
	}
	step(Change{Entry: Entry{Key: "E1", ID: "1", Attrs: []byte(`{"a":1}`)}}, []byte(`{"a":1}`), true)
	step(Change{Entry: Entry{Key: "E1", ID: "1", Attrs: []byte(`{"a":2}`)}}, []byte(`{"a":2}`), true)
	step(Change{Entry: Entry{Key: "E1", ID: "1"}}, nil, true)
	step(Change{Entry: Entry{Key: "E1", ID: "1", Attrs: []byte(`{"a":3}`)}}, []byte(`{"a":3}`), true)
	step(Change{Entry: Entry{Key: "E1"}, Delete: true}, nil, false)
	step(Change{Entry: Entry{Key: "E1", ID: "9"}}, nil, true) // a re-create does not inherit the old attributes
}
