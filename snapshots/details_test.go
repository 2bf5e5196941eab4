package snapshots

import (
	"fmt"
	"math/rand/v2"
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
func TestDetailsOfReadsWhatDetailsReads(t *testing.T) {
	s := memStore(t)
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
		err := s.DetailsOf(targets, keys, func(i, j int) bool { return wants[i][j] }, func(i, j int, attrs []byte, got []string) error {
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
		if heard != wanted {
			t.Errorf("round %d: heard %d of %d wanted details", round, heard, wanted)
		}
	}
}
