package snapshots

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// indexLines is ScanIndex's view of target, one line an entry.
func indexLines(t *testing.T, s *Store, target string) []string {
	t.Helper()
	var out []string
	must(t, s.ScanIndex(target, func(key []byte, e *IndexEntry) error {
		out = append(out, entryText(string(key), Entry{ID: string(e.ID), Hash: e.Hash, Disabled: e.Disabled,
			Deprovisioned: e.Deprovisioned, Since: e.Since}))
		return nil
	}))
	return out
}

// badgerLines is the same view read from Badger, past the cache.
func badgerLines(t *testing.T, s *Store, target string) []string {
	t.Helper()
	var out []string
	must(t, s.Scan(target, false, func(e Entry) error {
		out = append(out, entryText(e.Key, e))
		return nil
	}))
	return out
}

// entryText is one line of the views above: every field ScanIndex gives.
func entryText(key string, e Entry) string {
	return fmt.Sprintf("%s id=%s hash=%d dis=%v dep=%v since=%d", key, e.ID, e.Hash, e.Disabled, e.Deprovisioned, e.Since)
}

func diskStore(t *testing.T, dir string) *Store { return diskStoreAs(t, dir, Options{}) }

// killStore stops s as a killed process leaves it: Badger's files closed,
// but not the store, so the cache writes no manifest and the next Open
// must find its files stale.
func killStore(t *testing.T, s *Store) { must(t, s.db.Close()) }

// planStore opens dir as a plan does: without compactions.
func planStore(t *testing.T, dir string) *Store {
	return diskStoreAs(t, dir, Options{NoCompactions: true})
}

func diskStoreAs(t *testing.T, dir string, opts Options) *Store {
	t.Helper()
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// randomChanges is one commit's worth of creates, updates, deletes and
// membership-only changes to keys E0..E(keys-1).
func randomChanges(r *rand.Rand, keys int) []Change {
	var changes []Change
	for range 1 + r.IntN(6) {
		key := fmt.Sprintf("E%d", r.IntN(keys))
		switch r.IntN(6) {
		case 0: // a delete removes the entry whatever parts it names
			changes = append(changes, Change{Entry: Entry{Key: key}, Delete: true, Parts: []Parts{0, PartGroups}[r.IntN(2)]})
		case 1:
			changes = append(changes, Change{Entry: Entry{Key: key, Groups: []string{"g"}}, Parts: PartGroups})
		default:
			dep := r.IntN(3) == 0
			changes = append(changes, Change{Entry: Entry{Key: key, ID: fmt.Sprintf("id-%s-%d", key, r.IntN(2)), Hash: r.Uint64(),
				Disabled: dep, Deprovisioned: dep, Since: int64(r.IntN(3)), Attrs: fmt.Appendf(nil, "attrs %d", r.IntN(1000))}})
		}
	}
	return changes
}

// detailsLines is DetailsOf's view of keys (ascending) in targets, one
// line a key and target, with groups, and how many keys it read from
// files.
func detailsLines(t *testing.T, s *Store, targets, keys []string) ([]string, int) {
	t.Helper()
	reads := make([]DetailsRead, len(targets))
	for i, tg := range targets {
		reads[i] = DetailsRead{Target: tg, Groups: true}
	}
	var out []string
	cached, err := s.DetailsOf(reads, keys, func(int, int) bool { return true }, func(i, j int, attrs []byte, groups []string) error {
		out = append(out, fmt.Sprintf("%s %s attrs=%q groups=%q", keys[i], targets[j], attrs, groups))
		return nil
	})
	must(t, err)
	slices.Sort(out)
	return out, cached
}

// badgerDetailsLines is the same view from point reads in Badger.
func badgerDetailsLines(t *testing.T, s *Store, targets, keys []string) []string {
	t.Helper()
	var out []string
	for _, k := range keys {
		for _, tg := range targets {
			attrs, groups, err := s.Details(tg, k, true)
			must(t, err)
			out = append(out, fmt.Sprintf("%s %s attrs=%q groups=%q", k, tg, attrs, groups))
		}
	}
	slices.Sort(out)
	return out
}

// TestIndexCacheFollowsEveryWrite runs sessions of random commits and
// scans against one state directory, ending each with a Close, with a
// stop that skips Close (as a killed process does), or with a bulk load,
// and checks every scan against Badger. Overlays fold into new bases
// often, at a lowered threshold. Half the sessions open the store as a
// plan does, without compactions: only those make the details files
// (detailscache.go), which any session keeps up to date; and every
// DetailsOf is checked against point reads.
func TestIndexCacheFollowsEveryWrite(t *testing.T) {
	defer func(n uint64, b int) { foldAt, foldBytes = n, b }(foldAt, foldBytes)
	foldAt, foldBytes = 8, 1<<10 // folds by count, and by bytes for the details
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(3, 9))
	targets := []string{"dir", "app"}
	reads, lookups, details, loads := int64(0), int64(0), 0, 0
	for session := range 60 {
		s := diskStoreAs(t, dir, Options{NoCompactions: r.IntN(2) == 0})
		for step := range 30 {
			if r.IntN(4) == 0 {
				if r.IntN(3) == 0 {
					_, err := s.KeepDetails()
					must(t, err)
				}
				keys := make([]string, 40) // E60..E69 are never written
				for i := range keys {
					keys[i] = fmt.Sprintf("E%d", r.IntN(70))
				}
				slices.Sort(keys)
				got, cached := detailsLines(t, s, targets, keys)
				if diff := cmp.Diff(badgerDetailsLines(t, s, targets, keys), got); diff != "" {
					t.Fatalf("session %d step %d: DetailsOf differs from Badger (-badger +details):\n%s", session, step, diff)
				}
				details += cached
				continue
			}
			if r.IntN(3) == 0 {
				tg := targets[r.IntN(len(targets))]
				if diff := cmp.Diff(badgerLines(t, s, tg), indexLines(t, s, tg)); diff != "" {
					t.Fatalf("session %d step %d target %s: ScanIndex differs from Badger (-badger +scan):\n%s", session, step, tg, diff)
				}
				continue
			}
			if r.IntN(3) == 0 {
				tg := targets[r.IntN(len(targets))]
				keys := make([]string, 70) // E60..E69 are never written
				for i := range keys {
					keys[i] = fmt.Sprintf("E%d", r.IntN(70))
				}
				if diff := cmp.Diff(badgerGetLines(t, s, tg, keys), lookupLines(t, s, tg, keys)); diff != "" {
					t.Fatalf("session %d step %d target %s: Lookup differs from Badger (-badger +lookup):\n%s", session, step, tg, diff)
				}
				continue
			}
			must(t, s.Commit(targets[r.IntN(len(targets))], randomChanges(r, 60)...))
		}
		reads += s.cache.reads.Load()
		lookups += s.cache.lookups.Load()
		switch r.IntN(5) {
		case 0:
			killStore(t, s)
		case 1:
			tg := fmt.Sprintf("loaded%d", loads)
			loads++
			targets = append(targets, tg)
			indexLines(t, s, tg) // files of its empty index, which the load must drop
			n := 0
			must(t, s.Load(tg, func() (Entry, bool) {
				n++
				return Entry{Key: fmt.Sprintf("E%d", n), ID: fmt.Sprint(n), Hash: uint64(n), Attrs: []byte("loaded")}, n <= 50
			}))
			must(t, s.Close())
		default:
			must(t, s.Close())
		}
	}
	// A test whose scans all missed the files would prove nothing.
	if reads < 200 || lookups < 10000 || details < 3000 {
		t.Fatalf("only %d scans, %d lookups and %d keys' details read the cache files", reads, lookups, details)
	}
}

// TestIndexCacheIsReadAfterReopen checks that the files stay valid across
// a Close and an Open, and after a commit.
func TestIndexCacheIsReadAfterReopen(t *testing.T) {
	dir := t.TempDir()
	s := diskStore(t, dir)
	for i := range 100 {
		must(t, s.Commit("dir", Change{Entry: Entry{Key: fmt.Sprintf("E%03d", i), ID: fmt.Sprint(i), Hash: uint64(i)}}))
	}
	if s.HasIndexFiles("dir") {
		t.Fatal("HasIndexFiles before any scan made them")
	}
	want := indexLines(t, s, "dir") // made from Badger
	must(t, s.Close())
	s = diskStore(t, dir)
	if !s.HasIndexFiles("dir") || s.HasIndexFiles("other") {
		t.Fatal("after reopening, HasIndexFiles does not say which target has files")
	}
	if got := indexLines(t, s, "dir"); s.cache.reads.Load() != 1 || !cmp.Equal(want, got) {
		t.Fatalf("after reopening: %d reads of the files; scan differs: %s", s.cache.reads.Load(), cmp.Diff(want, got))
	}
	must(t, s.Commit("dir", Change{Entry: Entry{Key: "E005"}, Delete: true}, Change{Entry: Entry{Key: "E500", ID: "500"}}))
	must(t, s.Close())
	s = diskStore(t, dir)
	defer s.Close()
	got := indexLines(t, s, "dir")
	if s.cache.reads.Load() != 1 || !cmp.Equal(badgerLines(t, s, "dir"), got) || len(got) != 100 {
		t.Fatalf("after a commit: %d reads of the files; scan differs: %s", s.cache.reads.Load(), cmp.Diff(badgerLines(t, s, "dir"), got))
	}
}

// TestDamagedIndexFileIsNotRead damages a cache file four ways (a byte
// flipped in its last block or its footer, its end cut short, a byte
// after it): the scan must come from Badger, whole, and make new files.
func TestDamagedIndexFileIsNotRead(t *testing.T) {
	lastBlock := func(b []byte) int {
		f, err := parseFooter(b[len(b)-footerSize:])
		must(t, err)
		return int(f.end) - 10
	}
	damage := map[string]func([]byte) []byte{
		"flipped": func(b []byte) []byte { b[lastBlock(b)] ^= 1; return b }, // the blocks before it read well
		"footer":  func(b []byte) []byte { b[len(b)-30] ^= 1; return b },
		"cut":     func(b []byte) []byte { return b[:len(b)-5] },
		"longer":  func(b []byte) []byte { return append(b, 0) },
	}
	for name, hurt := range damage {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			s := diskStore(t, dir)
			for i := range 3000 {
				must(t, s.Commit("dir", Change{Entry: Entry{Key: fmt.Sprintf("E%04d", i), ID: fmt.Sprint(i), Hash: uint64(i)}}))
			}
			want := indexLines(t, s, "dir")
			must(t, s.Close())
			m := readManifest(t, dir)
			path := filepath.Join(dir, "index-cache", m.Targets["dir"].Base)
			b, err := os.ReadFile(path)
			must(t, err)
			must(t, os.WriteFile(path, hurt(b), 0o600))
			s = diskStore(t, dir)
			if got := indexLines(t, s, "dir"); s.cache.reads.Load() != 0 || !cmp.Equal(want, got) {
				t.Fatalf("damaged file: %d reads of the files; scan differs: %s", s.cache.reads.Load(), cmp.Diff(want, got))
			}
			must(t, s.Close())
			s = diskStore(t, dir)
			defer s.Close()
			if got := indexLines(t, s, "dir"); s.cache.reads.Load() != 1 || !cmp.Equal(want, got) {
				t.Fatalf("remade files: %d reads of the files; scan differs: %s", s.cache.reads.Load(), cmp.Diff(want, got))
			}
		})
	}
}

// TestIndexCacheChecksItsStamp changes each part of a manifest's stamp:
// files stamped for another state are not read.
func TestIndexCacheChecksItsStamp(t *testing.T) {
	for _, part := range []string{"stamp", "serial", "count", "format", "files"} {
		t.Run(part, func(t *testing.T) {
			dir := t.TempDir()
			s := diskStore(t, dir)
			must(t, s.Commit("dir", Change{Entry: Entry{Key: "E1", ID: "1"}}))
			indexLines(t, s, "dir")
			must(t, s.Close())
			m := readManifest(t, dir)
			mt := m.Targets["dir"]
			switch part {
			case "stamp":
				m.Stamp++
			case "serial":
				mt.Serial++
			case "count":
				mt.Count++
			case "format":
				m.Format--
			case "files":
				m.Files--
			}
			m.Targets["dir"] = mt
			must(t, writeManifest(filepath.Join(dir, "index-cache"), m))
			s = diskStore(t, dir)
			defer s.Close()
			if _, err := os.Stat(filepath.Join(dir, "index-cache", manifestName)); !os.IsNotExist(err) {
				t.Fatalf("a manifest with a changed %s is left on disk (%v)", part, err)
			}
			if indexLines(t, s, "dir"); s.cache.reads.Load() != 0 {
				t.Fatalf("files with a changed %s were read", part)
			}
		})
	}
}

func readManifest(t *testing.T, dir string) cacheManifest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "index-cache", manifestName))
	must(t, err)
	var m cacheManifest
	must(t, json.Unmarshal(b, &m))
	return m
}

// TestWritesDuringAScan commits while a scan is under way, from its
// callback: the scan reads as of its start, and the next scan sees the
// commit. A second scan of the target meanwhile reads Badger and leaves
// the files to the first, and a commit of more keys than are recorded
// drops the files being made.
func TestWritesDuringAScan(t *testing.T) {
	defer func(n int) { maxDirty = n }(maxDirty)
	maxDirty = 5
	dir := t.TempDir()
	s := diskStore(t, dir)
	for i := range 20 {
		must(t, s.Commit("dir", Change{Entry: Entry{Key: fmt.Sprintf("E%02d", i), ID: fmt.Sprint(i)}}))
	}
	indexLines(t, s, "dir")
	must(t, s.Commit("dir", Change{Entry: Entry{Key: "E03", ID: "3", Hash: 33}})) // a key to read back
	n := 0
	var nested []string
	must(t, s.ScanIndex("dir", func([]byte, *IndexEntry) error {
		if n++; n == 1 {
			must(t, s.Commit("dir", Change{Entry: Entry{Key: "E07", ID: "7", Hash: 77}}))
			// The scan holds E03's dirty mark and the files do not have
			// E03's commit yet: lookups meanwhile must read Badger.
			keys := []string{"E03", "E07", "E08"}
			if got, want := lookupLines(t, s, "dir", keys), badgerGetLines(t, s, "dir", keys); !cmp.Equal(want, got) {
				t.Fatalf("lookups during a scan: %s", cmp.Diff(want, got))
			}
			nested = indexLines(t, s, "dir")
		}
		return nil
	}))
	if want := badgerLines(t, s, "dir"); !cmp.Equal(want, nested) {
		t.Fatalf("a scan during another: %s", cmp.Diff(want, nested))
	}
	if got, want := indexLines(t, s, "dir"), badgerLines(t, s, "dir"); !cmp.Equal(want, got) || s.cache.reads.Load() != 2 {
		t.Fatalf("after a commit during a scan: %d reads of the files (want 2); %s", s.cache.reads.Load(), cmp.Diff(want, got))
	}
	if len(s.cache.dirty["dir"]) != 0 {
		t.Fatalf("keys left to read back after a scan: %v", s.cache.dirty["dir"])
	}
	// Files being made for "app" when a commit passes maxDirty keys.
	n = 0
	must(t, s.ScanIndex("app", func([]byte, *IndexEntry) error { return nil }))
	for i := range 3 {
		must(t, s.Commit("app", Change{Entry: Entry{Key: fmt.Sprintf("A%d", i), ID: fmt.Sprint(i)}}))
	}
	indexLines(t, s, "app") // new files with three entries
	// One more, so that the scan below writes a new overlay first.
	must(t, s.Commit("app", Change{Entry: Entry{Key: "A9", ID: "9"}}))
	must(t, s.ScanIndex("app", func([]byte, *IndexEntry) error {
		if n++; n == 1 {
			for i := range 10 {
				must(t, s.Commit("app", Change{Entry: Entry{Key: fmt.Sprintf("B%d", i), ID: fmt.Sprint(i)}}))
			}
		}
		return nil
	}))
	// The files that scan made for "app" went with it.
	checkFilesUsed(t, s, dir)
	before := s.cache.reads.Load()
	if got, want := indexLines(t, s, "app"), badgerLines(t, s, "app"); !cmp.Equal(want, got) || s.cache.reads.Load() != before {
		t.Fatalf("after more commits than recorded: files read %d times; %s", s.cache.reads.Load()-before, cmp.Diff(want, got))
	}
	must(t, s.Close())
}

// TestStateOpensWithoutItsCache: a cache directory that cannot be made
// (here a file is in its place) leaves the store working, without one.
func TestStateOpensWithoutItsCache(t *testing.T) {
	dir := t.TempDir()
	s := diskStore(t, dir)
	must(t, s.Commit("dir", Change{Entry: Entry{Key: "E1", ID: "1"}}))
	must(t, s.Close())
	must(t, os.RemoveAll(filepath.Join(dir, "index-cache")))
	must(t, os.WriteFile(filepath.Join(dir, "index-cache"), []byte("not a directory"), 0o600))
	s = diskStore(t, dir)
	if got := indexLines(t, s, "dir"); !cmp.Equal(badgerLines(t, s, "dir"), got) || len(got) != 1 {
		t.Fatalf("scan without a cache: %q", got)
	}
	must(t, s.Close())
}

// TestIndexCacheKeepsFewFiles runs a daemon's day many times over in one
// session (commits, then a full scan): replaced and dropped files go at
// once, not when the store closes.
func TestIndexCacheKeepsFewFiles(t *testing.T) {
	defer func(n uint64) { foldAt = n }(foldAt)
	foldAt = 8
	dir := t.TempDir()
	s := diskStore(t, dir)
	defer s.Close()
	r := rand.New(rand.NewPCG(4, 4))
	for i := range 200 {
		for range 3 {
			must(t, s.Commit([]string{"dir", "app"}[r.IntN(2)], randomChanges(r, 200)...))
		}
		if i%50 == 49 {
			must(t, s.Load(fmt.Sprintf("bulk%d", i), func() (Entry, bool) { return Entry{}, false }))
		}
		for _, tg := range []string{"dir", "app"} {
			if got, want := indexLines(t, s, tg), badgerLines(t, s, tg); !cmp.Equal(want, got) {
				t.Fatalf("round %d target %s: %s", i, tg, cmp.Diff(want, got))
			}
		}
		checkFilesUsed(t, s, dir)
	}
	if s.cache.reads.Load() < 100 {
		t.Fatalf("only %d scans read the files", s.cache.reads.Load())
	}
}

// checkFilesUsed requires the cache directory to hold exactly the files
// the store's targets use.
func checkFilesUsed(t *testing.T, s *Store, dir string) {
	t.Helper()
	var want []string
	s.cache.mu.Lock()
	for _, ct := range s.cache.targets {
		for _, f := range []string{ct.Base, ct.Overlay} {
			if f != "" {
				want = append(want, f)
			}
		}
	}
	s.cache.mu.Unlock()
	files, err := filepath.Glob(filepath.Join(dir, "index-cache", "*.idx"))
	must(t, err)
	var got []string
	for _, f := range files {
		got = append(got, filepath.Base(f))
	}
	slices.Sort(want)
	if !slices.Equal(want, got) {
		t.Fatalf("cache files on disk %v, in use %v", got, want)
	}
}
