package snapshots

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestDetailsOfReadsWhatDetailsReads stores entries for two targets whose
// keys interleave, some with groups and some without, and some keys that
// hold a NUL (whose details sort before a shorter key's in a later
// target), then reads ascending key sets of every density (dense runs,
// sparse picks, keys never stored, repeats, keys past the last) with
// DetailsOf, in both targets at once and in one, wanting a random subset,
// and checks each against Details, key by key, with and without groups.
// It does so from Badger, and from the details files (detailscache.go)
// with some keys changed since they were made, which must come from
// Badger.
func TestDetailsOfReadsWhatDetailsReads(t *testing.T) {
	t.Run("badger", func(t *testing.T) {
		s := memStore(t)
		if cached := checkDetailsOf(t, s, nil); cached != 0 {
			t.Errorf("a store without files read %d keys from files", cached)
		}
	})
	t.Run("files", func(t *testing.T) {
		s := planStore(t, t.TempDir())
		defer s.Close()
		cached := checkDetailsOf(t, s, func(rng *rand.Rand, key func(int) string) {
			_, err := s.KeepDetails()
			must(t, err)
			for range 60 { // changed since: new attributes, new groups, deletes
				k := key(rng.IntN(600))
				switch rng.IntN(3) {
				case 0:
					must(t, s.Commit("a", Change{Entry: Entry{Key: k, ID: "a" + k, Attrs: []byte(`{"changed":1}`)}}))
				case 1:
					must(t, s.Commit("b", Change{Entry: Entry{Key: k, Groups: []string{"new"}}, Parts: PartGroups}))
				default:
					must(t, s.Commit("a", Change{Entry: Entry{Key: k}, Delete: true}))
				}
			}
		})
		if cached < 2000 {
			t.Errorf("only %d keys' details came from the files", cached)
		}
	})
}

// checkDetailsOf is TestDetailsOfReadsWhatDetailsReads on s, calling
// stored, if given, once the entries are stored; it returns how many
// keys DetailsOf read from files.
func checkDetailsOf(t *testing.T, s *Store, stored func(rng *rand.Rand, key func(int) string)) (cached int) {
	rng := rand.New(rand.NewPCG(3, 3))
	key := func(i int) string {
		if i%10 == 3 {
			return fmt.Sprintf("E%04d\x00a", i-1)
		}
		return fmt.Sprintf("E%04d", i)
	}
	for i := range 600 {
		for _, target := range []string{"a", "b"} {
			if rng.IntN(3) == 0 {
				continue
			}
			en := Entry{Key: key(i), ID: target + key(i), Attrs: fmt.Appendf(nil, `{"n":%d,"t":%q}`, i, target)}
			parts := PartEntry
			if rng.IntN(2) == 0 {
				en.Groups, parts = []string{"g" + target, fmt.Sprint("n", i%7)}, PartEntry|PartGroups
			}
			must(t, s.Commit(target, Change{Entry: en, Parts: parts}))
		}
	}
	if stored != nil {
		stored(rng, key)
	}
	reads := [][]DetailsRead{
		{{Target: "a", Groups: true}, {Target: "b", Groups: false}},
		{{Target: "b", Groups: true}, {Target: "a", Groups: true}},
		{{Target: "a"}},
		{{Target: "b", Groups: true}},
	}
	for round := range 40 {
		var keys []string
		density := []float64{1, 0.9, 0.5, 0.1, 0.01}[round%5]
		for i := range 700 { // past the last stored key
			if rng.Float64() < density {
				keys = append(keys, key(i))
				if rng.IntN(50) == 0 {
					keys = append(keys, key(i)) // a source may repeat a key
				}
			}
		}
		slices.Sort(keys)
		targets := reads[round%len(reads)]
		wants := make([][]bool, len(keys))
		wanted := 0
		for i := range wants {
			for range targets {
				w := rng.IntN(4) != 0
				wants[i] = append(wants[i], w)
				if w {
					wanted++
				}
			}
		}
		heard, last := 0, -1
		n, err := s.DetailsOf(targets, keys, func(i, j int) bool { return wants[i][j] }, func(i, j int, attrs []byte, got []string) error {
			if i < last || !wants[i][j] {
				t.Fatalf("heard key %d in %s after key %d (wanted: %v)", i, targets[j].Target, last, wants[i][j])
			}
			last = i
			heard++
			rd := targets[j]
			wantAttrs, wantGroups, err := s.Details(rd.Target, keys[i], rd.Groups)
			must(t, err)
			if string(attrs) != string(wantAttrs) || !slices.Equal(got, wantGroups) {
				t.Errorf("target %s key %q groups=%v: got %s %q, want %s %q", rd.Target, keys[i], rd.Groups, attrs, got, wantAttrs, wantGroups)
			}
			return nil
		})
		must(t, err)
		cached += n
		if heard != wanted {
			t.Errorf("round %d: heard %d of %d wanted details", round, heard, wanted)
		}
	}
	return cached
}

// TestMovingGroupsDropsTheDetailsFiles: moving users' groups out of their
// attributes rewrites every key's details past the commits the files
// follow, so DetailsOf must read them from Badger after it.
func TestMovingGroupsDropsTheDetailsFiles(t *testing.T) {
	s := planStore(t, t.TempDir())
	defer s.Close()
	keys := []string{"E1", "E2", "E3"}
	for _, k := range keys {
		must(t, s.Commit("dir", Change{Entry: Entry{Key: k, ID: k, Attrs: []byte("with groups")}}))
	}
	if made, err := s.KeepDetails(); err != nil || made != uint64(len(keys)) {
		t.Fatalf("made the details of %d keys (%v), want %d", made, err, len(keys))
	}
	if _, cached := detailsLines(t, s, []string{"dir"}, keys); cached != len(keys) {
		t.Fatalf("%d of %d keys' details came from the files", cached, len(keys))
	}
	must(t, s.MoveGroups(func([]byte) ([]byte, []string, bool, error) { return []byte("without"), []string{"g"}, true, nil }))
	got, cached := detailsLines(t, s, []string{"dir"}, keys)
	if want := badgerDetailsLines(t, s, []string{"dir"}, keys); !slices.Equal(got, want) || cached != 0 {
		t.Errorf("after moving groups, %d keys from the files: %q, want %q", cached, got, want)
	}
}

// TestOnlyPlanStoresMakeDetailsFiles: a store that compacts keeps the
// details files up to date but does not make them, since it may not drop
// the table pages the walk maps; a plan's store, opened without
// compactions, makes them, and the other then reads and keeps them.
func TestOnlyPlanStoresMakeDetailsFiles(t *testing.T) {
	dir := t.TempDir()
	keys := []string{"E1", "E2"}
	s := diskStore(t, dir)
	for _, k := range keys {
		must(t, s.Commit("dir", Change{Entry: Entry{Key: k, ID: k, Attrs: []byte("a")}}))
	}
	if made, err := s.KeepDetails(); err != nil || made != 0 {
		t.Fatalf("a store that compacts made the details of %d keys (%v)", made, err)
	}
	if _, cached := detailsLines(t, s, []string{"dir"}, keys); cached != 0 {
		t.Fatalf("%d keys' details came from files no one made", cached)
	}
	if s.HasDetails() {
		t.Fatal("HasDetails before any files were made")
	}
	must(t, s.Close())
	s = planStore(t, dir)
	if made, err := s.KeepDetails(); err != nil || made != uint64(len(keys)) {
		t.Fatalf("a plan's store made the details of %d keys (%v), want %d", made, err, len(keys))
	}
	must(t, s.Close())
	s = diskStore(t, dir)
	defer s.Close()
	if !s.HasDetails() {
		t.Fatal("no HasDetails for the files a plan's store made")
	}
	must(t, s.Commit("dir", Change{Entry: Entry{Key: "E1", ID: "E1", Attrs: []byte("b")}}))
	if _, err := s.KeepDetails(); err != nil { // brings E1 up to date
		t.Fatal(err)
	}
	got, cached := detailsLines(t, s, []string{"dir"}, keys)
	if want := badgerDetailsLines(t, s, []string{"dir"}, keys); !slices.Equal(got, want) || cached != len(keys) {
		t.Errorf("%d keys from the files: %q, want %q", cached, got, want)
	}
}

// damagedDetails is a plan's store of one target "dir" holding keys, with
// attrs(i) the ith key's attributes, whose details files were made and
// then hurt on disk.
func damagedDetails(t *testing.T, keys []string, attrs func(i int) []byte, hurt func(b []byte)) *Store {
	t.Helper()
	dir := t.TempDir()
	s := planStore(t, dir)
	for i, k := range keys {
		must(t, s.Commit("dir", Change{Entry: Entry{Key: k, ID: k, Attrs: attrs(i)}}))
	}
	_, err := s.KeepDetails()
	must(t, err)
	must(t, s.Close())
	path := filepath.Join(dir, "index-cache", readManifest(t, dir).Targets[detailsTarget].Base)
	b, err := os.ReadFile(path)
	must(t, err)
	hurt(b)
	must(t, os.WriteFile(path, b, 0o600))
	s = planStore(t, dir)
	t.Cleanup(func() { s.Close() })
	return s
}

// TestDamagedDetailsAreReadFromBadger: a details file whose last block
// was changed on disk fails that block's check, and those keys' details
// come from Badger; the keys before it still come from the file.
func TestDamagedDetailsAreReadFromBadger(t *testing.T) {
	var keys []string
	for i := range 2000 {
		keys = append(keys, fmt.Sprintf("E%04d", i))
	}
	s := damagedDetails(t, keys, func(i int) []byte { return fmt.Appendf(nil, `{"n":%d,"pad":"%0100d"}`, i, i) }, func(b []byte) {
		f, err := parseFooter(b[len(b)-footerSize:])
		must(t, err)
		b[f.end-10] ^= 1 // in the last block
	})
	got, cached := detailsLines(t, s, []string{"dir"}, keys)
	if want := badgerDetailsLines(t, s, []string{"dir"}, keys); !slices.Equal(got, want) || cached == 0 || cached >= len(keys) {
		t.Errorf("%d of %d keys from the damaged files; the details differ: %v", cached, len(keys), !slices.Equal(got, want))
	}
	// The damage dropped the files, so the next full plan makes them anew.
	if made, err := s.KeepDetails(); err != nil || made != uint64(len(keys)) {
		t.Errorf("after the damage, made the details of %d keys (%v), want %d", made, err, len(keys))
	}
}

// TestDamagedDetailsAreMadeAnew: a full plan that finds the details files
// damaged on disk (here their footer) makes them anew instead of keeping
// them.
func TestDamagedDetailsAreMadeAnew(t *testing.T) {
	keys := []string{"E1", "E2", "E3"}
	s := damagedDetails(t, keys, func(int) []byte { return []byte("a") }, func(b []byte) { b[len(b)-5] ^= 1 })
	if made, err := s.KeepDetails(); err != nil || made != uint64(len(keys)) {
		t.Fatalf("with a damaged footer, made the details of %d keys (%v), want %d", made, err, len(keys))
	}
	if _, cached := detailsLines(t, s, []string{"dir"}, keys); cached != len(keys) {
		t.Errorf("%d of %d keys from the files made anew", cached, len(keys))
	}
}
