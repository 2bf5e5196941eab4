package snapshots

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestDetailsOfReadsWhatDetailsReads stores entries for two targets whose
// keys interleave, some with groups and some without, then reads
// ascending key sets of every density (dense runs, sparse picks, keys
// never stored, repeats, keys past the last) with DetailsOf and checks
// each against Details, key by key, with and without groups.
func TestDetailsOfReadsWhatDetailsReads(t *testing.T) {
	s := memStore(t)
	rng := rand.New(rand.NewPCG(3, 3))
	key := func(i int) string { return fmt.Sprintf("E%04d", i) }
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
		for _, target := range []string{"a", "b"} {
			for _, groups := range []bool{true, false} {
				seen := 0
				err := s.DetailsOf(target, keys, groups, func(i int, attrs []byte, got []string) error {
					if i != seen {
						t.Fatalf("heard key %d, want %d", i, seen)
					}
					seen++
					wantAttrs, wantGroups, err := s.Details(target, keys[i], groups)
					must(t, err)
					if string(attrs) != string(wantAttrs) || !slices.Equal(got, wantGroups) {
						t.Errorf("target %s key %s groups=%v: got %s %q, want %s %q", target, keys[i], groups, attrs, got, wantAttrs, wantGroups)
					}
					return nil
				})
				must(t, err)
				if seen != len(keys) {
					t.Errorf("heard %d keys of %d", seen, len(keys))
				}
			}
		}
	}
}
