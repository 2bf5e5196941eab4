package snapshots

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// writeTestIndex writes n records with keys that vary in length and hold
// NUL bytes, compressed when s2, and returns them in key order.
func writeTestIndex(t *testing.T, path string, n int, s2 bool) []record {
	t.Helper()
	r := rand.New(rand.NewPCG(5, 7))
	seen := map[string]bool{}
	var recs []record
	for len(recs) < n {
		k := fmt.Sprintf("K%0*d", 1+r.IntN(6), r.IntN(1_000_000))
		if r.IntN(10) == 0 {
			k += "\x00x"
		}
		if seen[k] {
			continue
		}
		seen[k] = true
		recs = append(recs, record{key: []byte(k), entry: bytes.Repeat([]byte{byte(r.IntN(256))}, r.IntN(40))})
	}
	slices.SortFunc(recs, func(a, b record) int { return bytes.Compare(a.key, b.key) })
	must(t, writeRecords(path, recs, s2))
	return recs
}

// eachFileKind runs fn on files with plain blocks and with compressed
// ones (fileS2).
func eachFileKind(t *testing.T, fn func(t *testing.T, s2 bool)) {
	for _, s2 := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "s2"}[s2], func(t *testing.T) { fn(t, s2) })
	}
}

// TestIndexTableFindsEveryRecord reads each record of a many-block file
// by key, and keys that fall before, between and after them, with a
// lookup searching every block, every third, and every 32nd (walking the
// list from there).
func TestIndexTableFindsEveryRecord(t *testing.T) {
	defer func(n int) { blockStride = n }(blockStride)
	for _, stride := range []int{1, 3, 32} {
		blockStride = stride
		t.Run(fmt.Sprint("stride=", stride), func(t *testing.T) { eachFileKind(t, testIndexTableFindsEveryRecord) })
	}
}

func testIndexTableFindsEveryRecord(t *testing.T, s2 bool) {
	path := filepath.Join(t.TempDir(), "1.idx")
	recs := writeTestIndex(t, path, 5000, s2)
	tb := &indexTable{path: path}
	must(t, tb.load())
	defer tb.close()
	if blocks, err := walkBlockList(tb.list, uint64(tb.end), nil); err != nil || blocks < 20 || len(tb.every) != (blocks+blockStride-1)/blockStride {
		t.Fatalf("%d blocks (%v), %d searched: the test needs many", blocks, err, len(tb.every))
	}
	r := newTableReader(tb)
	defer r.done()
	for i, rec := range recs {
		e, ok, err := r.find(string(rec.key))
		if err != nil || !ok || !bytes.Equal(e, rec.entry) {
			t.Fatalf("record %d %q: got %x %v %v, want %x", i, rec.key, e, ok, err, rec.entry)
		}
		for _, probe := range []string{string(rec.key) + "\x00", string(rec.key[:len(rec.key)-1])} {
			if _, ok := slices.BinarySearchFunc(recs, probe, func(r record, k string) int { return bytes.Compare(r.key, []byte(k)) }); ok {
				continue
			}
			if _, ok, err := r.find(probe); ok || err != nil {
				t.Fatalf("%q is not in the file, but find says %v %v", probe, ok, err)
			}
		}
	}
	for _, probe := range []string{"", "A", "Z"} {
		if _, ok, err := r.find(probe); ok || err != nil {
			t.Fatalf("%q is not in the file, but find says %v %v", probe, ok, err)
		}
	}
	// The sequential reader reads the same file whole.
	got, err := readRecords(path)
	if err != nil || !slices.EqualFunc(got, recs, func(a, b record) bool { return bytes.Equal(a.key, b.key) && bytes.Equal(a.entry, b.entry) }) {
		t.Fatalf("readRecords: %d records of %d, or others, %v", len(got), len(recs), err)
	}
}

// TestIndexTableRefusesDamage damages a file: a flipped byte in a block
// fails the lookups in that block only, and damage to the block list or
// footer fails the load.
func TestIndexTableRefusesDamage(t *testing.T) { eachFileKind(t, testIndexTableRefusesDamage) }

func testIndexTableRefusesDamage(t *testing.T, s2 bool) {
	path := filepath.Join(t.TempDir(), "1.idx")
	recs := writeTestIndex(t, path, 3000, s2)
	orig, err := os.ReadFile(path)
	must(t, err)
	ft, err := parseFooter(orig[len(orig)-footerSize:])
	must(t, err)
	hurt := func(at int) {
		b := slices.Clone(orig)
		b[at] ^= 1
		must(t, os.WriteFile(path, b, 0o600))
	}

	hurt(int(ft.end) - 10) // in the last block
	tb := &indexTable{path: path}
	must(t, tb.load())
	r := newTableReader(tb)
	last := recs[len(recs)-1].key
	if _, _, err := r.find(string(last)); !errors.Is(err, errBadIndexFile) {
		t.Errorf("a lookup in the damaged block: %v", err)
	}
	if e, ok, err := r.find(string(recs[0].key)); err != nil || !ok || !bytes.Equal(e, recs[0].entry) {
		t.Errorf("a lookup in a sound block: %x %v %v", e, ok, err)
	}
	r.done()
	tb.close()

	for name, at := range map[string]int{"block list": int(ft.end) + 4, "footer": len(orig) - 20} {
		hurt(at)
		tb := &indexTable{path: path}
		if err := tb.load(); !errors.Is(err, errBadIndexFile) {
			t.Errorf("%s damaged: load says %v", name, err)
		}
		tb.close()
	}
	must(t, os.WriteFile(path, orig[:len(orig)-1], 0o600))
	tb = &indexTable{path: path}
	if err := tb.load(); !errors.Is(err, errBadIndexFile) {
		t.Errorf("cut short: load says %v", err)
	}
	tb.close()
}

// lookupLines is Lookup's view of keys in target, and badgerGetLines the
// same read with point reads in Badger.
func lookupLines(t *testing.T, s *Store, target string, keys []string) []string {
	t.Helper()
	var out []string
	must(t, s.Lookup(target, keys, func(e Entry, ok bool) error {
		out = append(out, entryLine(e.Key, e, ok))
		return nil
	}))
	return out
}

func badgerGetLines(t *testing.T, s *Store, target string, keys []string) []string {
	t.Helper()
	var out []string
	for _, k := range keys {
		e, ok, err := s.Get(target, k)
		must(t, err)
		out = append(out, entryLine(k, e, ok))
	}
	return out
}

func entryLine(key string, e Entry, ok bool) string {
	if !ok {
		return key + " absent"
	}
	return entryText(key, e)
}

// TestLookupReadsTheFiles checks lookups against Badger's point reads as
// the files go from fresh, to behind a commit (its keys read from
// Badger), to an overlay, to damaged.
func TestLookupReadsTheFiles(t *testing.T) {
	dir := t.TempDir()
	s := diskStore(t, dir)
	for i := range 2000 {
		must(t, s.Commit("dir", Change{Entry: Entry{Key: fmt.Sprintf("E%04d", 2*i), ID: fmt.Sprint(i), Hash: uint64(i)}}))
	}
	keys := make([]string, 0, 4002)
	for i := range 4002 {
		keys = append(keys, fmt.Sprintf("E%04d", i)) // every other one is absent
	}
	shuffled := slices.Clone(keys)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	check := func(when string, fromFiles int64) {
		t.Helper()
		before := s.cache.lookups.Load()
		for _, ks := range [][]string{keys, shuffled} {
			if got, want := lookupLines(t, s, "dir", ks), badgerGetLines(t, s, "dir", ks); !slices.Equal(got, want) {
				t.Fatalf("%s: Lookup differs from Badger at %d", when, firstDiff(got, want))
			}
		}
		if n := s.cache.lookups.Load() - before; n != 2*fromFiles {
			t.Fatalf("%s: %d keys read from the files, want %d", when, n, 2*fromFiles)
		}
	}
	check("no files yet", 0)
	indexLines(t, s, "dir") // makes them
	check("fresh files", int64(len(keys)))

	changes := []Change{
		{Entry: Entry{Key: "E0002"}, Delete: true},
		{Entry: Entry{Key: "E0003", ID: "new", Hash: 7}},
		{Entry: Entry{Key: "E0004", ID: "moved", Hash: 8, Disabled: true}},
	}
	must(t, s.Commit("dir", changes...))
	check("after a commit", int64(len(keys)-len(changes)))

	must(t, s.Close())
	s = diskStore(t, dir)
	if m := readManifest(t, dir); m.Targets["dir"].Overlay == "" {
		t.Fatal("the test needs an overlay")
	}
	check("with an overlay", int64(len(keys)))

	base := filepath.Join(dir, "index-cache", readManifest(t, dir).Targets["dir"].Base)
	must(t, s.Close())
	b, err := os.ReadFile(base)
	must(t, err)
	b[len(indexMagic)+100] ^= 1 // the first block
	must(t, os.WriteFile(base, b, 0o600))
	s = diskStore(t, dir)
	defer s.Close()
	before := s.cache.lookups.Load()
	if got, want := lookupLines(t, s, "dir", keys), badgerGetLines(t, s, "dir", keys); !slices.Equal(got, want) {
		t.Fatalf("damaged base: Lookup differs from Badger at %d", firstDiff(got, want))
	}
	// The first key is not in the overlay, so it reads the damaged block,
	// and every key after it comes from Badger.
	if n := s.cache.lookups.Load() - before; n != 0 {
		t.Fatalf("damaged base: %d keys read from the files", n)
	}
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestLookupsDuringScansAndCommits looks up keys from two goroutines
// while a third commits and scans, folding overlays into new bases, so
// that files are replaced and removed while lookups hold them. Keys no
// commit touches must read the same every time.
func TestLookupsDuringScansAndCommits(t *testing.T) {
	defer func(n uint64) { foldAt = n }(foldAt)
	foldAt = 4
	s := planStore(t, t.TempDir())
	defer s.Close()
	var still []string
	for i := range 300 {
		key := fmt.Sprintf("S%03d", i)
		still = append(still, key)
		must(t, s.Commit("dir", Change{Entry: Entry{Key: key, ID: fmt.Sprint(i), Hash: uint64(i), Attrs: fmt.Appendf(nil, "attrs %d", i)}}))
	}
	indexLines(t, s, "dir")
	_, err := s.KeepDetails()
	must(t, err)
	want := badgerGetLines(t, s, "dir", still)
	wantDetails := badgerDetailsLines(t, s, []string{"dir"}, still)
	done := make(chan struct{})
	errs := make(chan error, 3)
	go untilDone(done, errs, func(n int) error { // and the details of the same keys
		keys := append(slices.Clone(still), fmt.Sprintf("T%d", n%40)) // after every S
		var got []string
		_, err := s.DetailsOf([]DetailsRead{{Target: "dir", Groups: true}}, keys, func(int, int) bool { return true },
			func(i, _ int, attrs []byte, groups []string) error {
				if keys[i][0] == 'S' {
					got = append(got, fmt.Sprintf("%s dir attrs=%q groups=%q", keys[i], attrs, groups))
				}
				return nil
			})
		if err == nil && !slices.Equal(got, wantDetails) {
			err = fmt.Errorf("details %d: differs at %d", n, firstDiff(got, wantDetails))
		}
		return err
	})
	for g := range 2 {
		go untilDone(done, errs, func(n int) error {
			keys := append(slices.Clone(still), fmt.Sprintf("C%d", n%40))
			var got []string
			err := s.Lookup("dir", keys, func(e Entry, ok bool) error {
				if e.Key[0] == 'S' {
					got = append(got, entryLine(e.Key, e, ok))
				}
				return nil
			})
			if err == nil && !slices.Equal(got, want) {
				err = fmt.Errorf("goroutine %d lookup %d: differs at %d", g, n, firstDiff(got, want))
			}
			return err
		})
	}
	r := rand.New(rand.NewPCG(4, 4))
	for i := range 200 {
		key := fmt.Sprintf("C%d", r.IntN(40))
		must(t, s.Commit("dir", Change{Entry: Entry{Key: key, ID: fmt.Sprint(i), Hash: r.Uint64(), Attrs: []byte("c")}, Delete: r.IntN(4) == 0}))
		if i%5 == 0 {
			indexLines(t, s, "dir")
			_, err := s.KeepDetails()
			must(t, err)
		}
	}
	close(done)
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if s.cache.lookups.Load() == 0 || s.cache.details.Load() == 0 {
		t.Fatalf("%d lookups and %d keys' details read the files", s.cache.lookups.Load(), s.cache.details.Load())
	}
}

// untilDone calls read with 0, 1, 2... until it fails or done closes,
// and sends errs its error or nil.
func untilDone(done <-chan struct{}, errs chan<- error, read func(n int) error) {
	for n := 0; ; n++ {
		select {
		case <-done:
			errs <- nil
			return
		default:
		}
		if err := read(n); err != nil {
			errs <- err
			return
		}
	}
}
