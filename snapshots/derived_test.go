package snapshots

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// derivedOf is what the tests derive from targets: their scans' lines,
// and the generations Scanned gave, 0 for a scan no files hold.
func derivedOf(t *testing.T, s *Store, targets []string) (payload []byte, gens []uint64) {
	t.Helper()
	var b strings.Builder
	for _, tg := range targets {
		scanned, err := s.ScanIndexFrom(tg, func(key []byte, e *IndexEntry) error {
			b.WriteString(entryText(string(key), Entry{ID: string(e.ID), Hash: e.Hash, Disabled: e.Disabled,
				Deprovisioned: e.Deprovisioned, Since: e.Since}) + "\n")
			return nil
		})
		must(t, err)
		gens = append(gens, scanned.Gen)
		b.WriteString("--\n")
	}
	return []byte(b.String()), gens
}

// readDerived is MapDerived's payload, copied before it is released.
func readDerived(s *Store, name string, gens []uint64) ([]byte, error) {
	payload, release, err := s.MapDerived(name, gens)
	defer release()
	if payload == nil {
		return nil, err
	}
	return bytes.Clone(payload), err
}

// truthOf is derivedOf read from Badger, past the cache.
func truthOf(t *testing.T, s *Store, targets []string) string {
	t.Helper()
	var b strings.Builder
	for _, tg := range targets {
		for _, l := range badgerLines(t, s, tg) {
			b.WriteString(l + "\n")
		}
		b.WriteString("--\n")
	}
	return b.String()
}

// TestDerivedFileIsReadOnlyWhileExact writes, commits, scans and reopens
// at random, and keeps a file derived from two targets' scans: whenever
// ReadDerived gives it back for the targets' current generations, it must
// be what Badger holds now.
func TestDerivedFileIsReadOnlyWhileExact(t *testing.T) {
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(5, 11))
	targets := []string{"dir", "app"}
	const name = "derived-test"
	hits, stale, written := 0, 0, 0
	for session := range 40 {
		s := diskStoreAs(t, dir, Options{NoCompactions: r.IntN(2) == 0})
		for step := range 20 {
			switch r.IntN(3) {
			case 0:
				must(t, s.Commit(targets[r.IntN(len(targets))], randomChanges(r, 40)...))
			case 1:
				gens := []uint64{s.IndexGen(targets[0]), s.IndexGen(targets[1])}
				got, err := readDerived(s, name, gens)
				must(t, err)
				if got == nil {
					stale++
					continue
				}
				hits++
				if want := truthOf(t, s, targets); string(got) != want {
					t.Fatalf("session %d step %d: read back for generations %v:\n%s\nwant, from Badger:\n%s", session, step, gens, got, want)
				}
			default:
				payload, gens := derivedOf(t, s, targets)
				if gens[0] != 0 && gens[1] != 0 {
					// Written in two sections, read back as one.
					must(t, s.WriteDerived(name, gens, payload[:len(payload)/2], payload[len(payload)/2:]))
					written++
				}
			}
		}
		if r.IntN(4) == 0 {
			killStore(t, s)
		} else {
			must(t, s.Close())
		}
	}
	// A test that never read the file back, or never found it stale,
	// would prove nothing.
	if hits < 50 || stale < 50 || written < 50 {
		t.Fatalf("%d reads back, %d found stale, %d written", hits, stale, written)
	}
}

// TestDamagedDerivedFileIsNotRead flips a byte of a derived file's
// payload, then cuts it short: it is not given back, and is removed.
// One stamped with generations no target holds any more goes when the
// store opens.
func TestDamagedDerivedFileIsNotRead(t *testing.T) {
	dir := t.TempDir()
	s := diskStore(t, dir)
	must(t, s.Commit("dir", Change{Entry: Entry{Key: "E1", ID: "1", Hash: 1}}))
	payload, gens := derivedOf(t, s, []string{"dir"})
	path := filepath.Join(dir, "index-cache", "derived-x")
	for _, damage := range []func(b []byte) []byte{
		func(b []byte) []byte { b[len(b)-3] ^= 1; return b },
		func(b []byte) []byte { return b[:len(b)-1] },
		func(b []byte) []byte { return append(b, 0) },
	} {
		must(t, s.WriteDerived("derived-x", gens, payload))
		if got, err := readDerived(s, "derived-x", gens); err != nil || string(got) != string(payload) {
			t.Fatalf("intact: read %q (%v)", got, err)
		}
		b, err := os.ReadFile(path)
		must(t, err)
		must(t, os.WriteFile(path, damage(b), 0o600))
		if got, err := readDerived(s, "derived-x", gens); err != nil || got != nil {
			t.Fatalf("damaged: read %q (%v), want nothing", got, err)
		}
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Fatalf("the damaged file is still there (%v)", err)
		}
	}
	if err := s.WriteDerived("../derived-x", gens, payload); err == nil {
		t.Error("WriteDerived took a name outside the cache")
	}
	must(t, s.WriteDerived("derived-x", gens, payload))
	must(t, s.Close())
	s = diskStore(t, dir)
	if got, err := readDerived(s, "derived-x", gens); err != nil || string(got) != string(payload) {
		t.Fatalf("after reopening: read %q (%v)", got, err)
	}
	must(t, s.Commit("dir", Change{Entry: Entry{Key: "E2", ID: "2", Hash: 2}}))
	if got, err := readDerived(s, "derived-x", []uint64{s.IndexGen("dir")}); err != nil || got != nil {
		t.Fatalf("after a commit: read %q (%v), want nothing", got, err)
	}
	derivedOf(t, s, []string{"dir"}) // new files, a new generation
	must(t, s.Close())
	s = diskStore(t, dir)
	defer s.Close()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("a derived file of files no longer held outlived opening the store (%v)", err)
	}
}
