package snapshots

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"syscall"
	"testing"

	badger "github.com/dgraph-io/badger/v4"
)

// BenchmarkSparseReads measures what the key layout costs a delta plan,
// which reads every stored value of a few changed records: their entry
// and attributes in each of 3 targets, and their groups. In v8's layout,
// a family per kind, those are seven reads in seven places; v9's keeps a
// key's attributes and groups in every target side by side (famRecord),
// so four of the seven share a place; a layout with every value key-first
// would put all seven together, at the cost of scanning every target's
// attributes to scan one target's entries. Each iteration first drops the
// process's mappings of the tables, as a plan process starts without
// them, and then reads 0.1% of the identities (10k changes in 10M) as a
// plan does: the entries of each target for every key, then each key's
// details. -sparse.identities sets how many (200k by default; at 1M,
// each layout takes a minute to write). README, Performance, has the
// figures.
func BenchmarkSparseReads(b *testing.B) {
	identities := *sparseIdentities
	targets := []string{"app", "directory", "hris"}
	layouts := []struct {
		name string
		key  func(kind byte, target, key string) []byte
	}{
		{"v8", func(kind byte, target, key string) []byte {
			return append(append(append([]byte{kind}, target...), 0), key...)
		}},
		{"v9", func(kind byte, target, key string) []byte {
			switch kind {
			case famAttrs:
				return attrsKey(target, key)
			case famMembers:
				return membersKey(target, key)
			}
			return objectKey(target, key)
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
				dropTables(dir, s.trim.keep) // as a plan starts: the block indexes stay
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

var sparseIdentities = flag.Int("sparse.identities", 200_000, "identities BenchmarkSparseReads stores")

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

// readSeven reads each key's entry in every target, then each key's
// attributes in every target and its groups, and returns how many values
// it found.
func readSeven(s *Store, targets []string, keys []string, key func(kind byte, target, key string) []byte) (int64, error) {
	type read struct {
		kind   byte
		target string
	}
	var details []read
	for _, t := range targets {
		details = append(details, read{famAttrs, t})
		if t == "directory" {
			details = append(details, read{famMembers, t})
		}
	}
	var found int64
	err := s.db.View(func(txn *badger.Txn) error {
		get := func(k []byte) error {
			item, err := txn.Get(k)
			if err != nil {
				return err
			}
			found++
			return item.Value(func([]byte) error { return nil })
		}
		for _, t := range targets {
			for _, k := range keys {
				if err := get(key(famObject, t, k)); err != nil {
					return err
				}
			}
		}
		for _, k := range keys {
			for _, rd := range details {
				if err := get(key(rd.kind, rd.target, k)); err != nil {
					return err
				}
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
