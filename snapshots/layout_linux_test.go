package snapshots

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"syscall"
	"testing"

	badger "github.com/dgraph-io/badger/v4"
)

// BenchmarkSparseReads measures what a key-first layout would buy a delta
// plan, which reads every stored value of a few changed records: their
// entry and attributes in each of 3 targets, and their groups. idsync's
// layout keeps a family per kind (keys.go), so those are seven reads in
// seven places; a key-first one ('r' key NUL target NUL kind, not
// idsync's) keeps all of a key's values side by side. Each iteration
// first drops the process's mappings of the tables, as a plan process
// starts without them, and then reads 0.1% of the identities (10k
// changes in 10M), in idsync's order: one kind of one target for every
// key, then the next. README, Performance, has the figures.
func BenchmarkSparseReads(b *testing.B) {
	const identities = 200_000
	targets := []string{"app", "directory", "hris"}
	layouts := []struct {
		name string
		key  func(kind byte, target, key string) []byte
	}{
		{"families", func(kind byte, target, key string) []byte {
			return append(append(append([]byte{kind}, target...), 0), key...)
		}},
		{"key-first", func(kind byte, target, key string) []byte {
			k := append(append([]byte{'r'}, key...), 0)
			return append(append(append(k, target...), 0), kind)
		}},
	}
	for _, layout := range layouts {
		b.Run(layout.name, func(b *testing.B) {
			dir, err := filepath.Abs(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			writeLayout(b, dir, identities, targets, layout.key)
			s, err := Open(dir, Options{NoCompactions: true})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			r := rand.New(rand.NewPCG(1, 2))
			keys := make([]string, identities/1000)
			var faults, found int64
			for b.Loop() {
				b.StopTimer()
				dropTables(dir)
				for i := range keys {
					keys[i] = layoutKey(r.IntN(identities))
				}
				before := minorFaults()
				b.StartTimer()
				n, err := readSeven(s, targets, keys, layout.key)
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				faults += minorFaults() - before
				found += n
				b.StartTimer()
			}
			if want := int64(b.N * len(keys) * 7); found != want {
				b.Fatalf("found %d values, want %d", found, want)
			}
			reads := float64(b.N * len(keys))
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/reads, "ns/record")
			b.ReportMetric(float64(faults)/reads, "faults/record")
		})
	}
}

func layoutKey(i int) string { return fmt.Sprintf("E%08d", i) }

// writeLayout writes identities' values for targets under the given
// keys, in one level, as a long-lived store's are.
func writeLayout(b *testing.B, dir string, identities int, targets []string, key func(kind byte, target, key string) []byte) {
	s, err := Open(dir, Options{})
	if err != nil {
		b.Fatal(err)
	}
	wb := s.db.NewWriteBatch()
	attrs := make([]byte, 150) // about a reference policy's ten attributes
	for i := range identities {
		k := layoutKey(i)
		e := Entry{Key: k, ID: fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i), Hash: uint64(i) + 1}
		for _, t := range targets {
			for kind, v := range map[byte][]byte{famObject: e.encode(), famAttrs: attrs} {
				if err := wb.Set(key(kind, t, k), v); err != nil {
					b.Fatal(err)
				}
			}
		}
		if err := wb.Set(key(famMembers, "directory", k), encodeGroups([]string{"Finance"})); err != nil {
			b.Fatal(err)
		}
	}
	if err := wb.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := s.db.Flatten(2); err != nil {
		b.Fatal(err)
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
}

// readSeven reads each key's entry and attributes in every target, and
// its groups, and returns how many values it found.
func readSeven(s *Store, targets []string, keys []string, key func(kind byte, target, key string) []byte) (int64, error) {
	type read struct {
		kind   byte
		target string
	}
	var reads []read
	for _, kind := range []byte{famObject, famAttrs} {
		for _, t := range targets {
			reads = append(reads, read{kind, t})
		}
	}
	reads = append(reads, read{famMembers, "directory"})
	var found int64
	err := s.db.View(func(txn *badger.Txn) error {
		for _, rd := range reads {
			for _, k := range keys {
				item, err := txn.Get(key(rd.kind, rd.target, k))
				if err != nil {
					return err
				}
				if err := item.Value(func([]byte) error { return nil }); err != nil {
					return err
				}
				found++
			}
		}
		return nil
	})
	return found, err
}

func minorFaults() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Minflt
}
