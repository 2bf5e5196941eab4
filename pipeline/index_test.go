package pipeline

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/idsync/idsync/pipeline/config"
	"github.com/idsync/idsync/pipeline/plan"
	"github.com/idsync/idsync/snapshots"
)

// TestKeyTableFindsEveryKeyEvenWhenHashesCollide numbers keys in each
// kind of table and checks that every key is found under its own number
// and that unknown keys are not. With collide, the hash sends every key to
// the same value, so all but the first go through the spill map. A sorted
// table is checked by binary search, by good and bad guesses, after it has
// built its map for missing too many guesses, and after a key out of order
// has turned it into a plain table.
func TestKeyTableFindsEveryKeyEvenWhenHashesCollide(t *testing.T) {
	const n = 50
	key := func(i int) string { return fmt.Sprintf("E%03d", i) }
	for _, kind := range []string{"plain", "sorted", "sorted, then hashed", "sorted, then out of order"} {
		for _, collide := range []bool{false, true} {
			t.Run(fmt.Sprint(kind, ", collide=", collide), func(t *testing.T) {
				k := newKeyTable(0)
				if kind != "plain" {
					k = newSortedKeyTable(0)
					k.mapAfter = n / 2
				}
				if kind == "sorted" {
					k.mapAfter = 100 * n // binary search throughout
				}
				if collide {
					k.sum = func(string) uint64 { return 42 }
				}
				for i := range n {
					if got := k.add([]byte(key(i))); got != int32(i) {
						t.Fatalf("add numbered %s as %d", key(i), got)
					}
				}
				if kind == "sorted, then out of order" {
					if k.add([]byte("D")) != n || k.sorted || !k.hashed.Load() {
						t.Fatalf("a key out of order left the table sorted")
					}
				}
				check := func(find func(i int) (int32, bool)) {
					t.Helper()
					for i := range n {
						if got, ok := find(i); !ok || got != int32(i) || k.key(got) != key(i) {
							t.Errorf("%s: got %d, %v", key(i), got, ok)
						}
					}
				}
				if kind == "sorted, then hashed" {
					for i := range n {
						k.findNear(key(i), 0) // a wrong guess, bar one
					}
					if !k.hashed.Load() {
						t.Fatalf("%d missed guesses built no map", n)
					}
				}
				check(func(i int) (int32, bool) { return k.find(key(i)) })
				check(func(i int) (int32, bool) { return k.findNear(key(i), int32(i)) })
				check(func(i int) (int32, bool) { return k.findNear(key(i), int32(n-1-i)) })
				check(func(i int) (int32, bool) { return k.findNear(key(i), -1) })
				for _, missing := range []string{key(n), "", "E", "E0000", "F"} {
					if _, ok := k.find(missing); ok {
						t.Errorf("find(%q) found a number", missing)
					}
					if _, ok := k.findNear(missing, 0); ok {
						t.Errorf("findNear(%q) found a number", missing)
					}
				}
				if kind == "sorted" && k.hashed.Load() {
					t.Errorf("a sorted table built its map before %d misses", k.mapAfter)
				}
				if collide && k.hashed.Load() && len(k.spill) != k.len()-1 {
					t.Errorf("spill holds %d keys, want %d: the test did not collide them", len(k.spill), k.len()-1)
				}
			})
		}
	}
}

// TestFullIndexesShareOneKeyTable loads three targets with overlapping
// key sets (one empty) and checks each target's view: what it manages,
// what it does not, by key and by shared position, and in key order.
func TestFullIndexesShareOneKeyTable(t *testing.T) {
	st, err := snapshots.Open("", snapshots.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	managed := map[string][]string{"a": {"E1", "E2", "E4"}, "b": {"E3", "E2"}, "c": nil}
	var runs []*targetRun
	for _, name := range []string{"a", "b", "c"} {
		for i, key := range managed[name] {
			if err := st.Commit(name, snapshots.Change{Entry: snapshots.Entry{Key: key, ID: name + "-" + key, Hash: uint64(i + 1)}}); err != nil {
				t.Fatal(err)
			}
		}
		runs = append(runs, &targetRun{t: &target{cfg: &config.Target{Name: name}}, out: &plan.Target{Managed: len(managed[name])}})
	}
	e := &Engine{store: st}
	sr := &sourceRun{full: true}
	if err := e.loadIndexes(sr, runs); err != nil {
		t.Fatal(err)
	}
	for _, tr := range runs {
		name := tr.t.cfg.Name
		var got []string
		tr.index.each(func(key string, _ position, ie indexEntry) { got = append(got, key+"="+ie.id) })
		var want []string
		for _, key := range []string{"E1", "E2", "E3", "E4"} {
			in := false
			for _, m := range managed[name] {
				in = in || m == key
			}
			if in {
				want = append(want, key+"="+name+"-"+key)
			}
			n, known := sr.keys.find(key)
			byPos, okPos, _ := tr.index.lookup(key, position{n, known})
			byKey, okKey, _ := tr.index.get(key)
			if okPos != in || okKey != in || byPos != byKey {
				t.Errorf("target %s key %s: lookup %+v %v, get %+v %v; managed: %v", name, key, byPos, okPos, byKey, okKey, in)
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("target %s: each (-want +got):\n%s", name, diff)
		}
		if _, ok, _ := tr.index.get("E9"); ok {
			t.Errorf("target %s: an unknown key is managed", name)
		}
	}
	if sr.keys.len() != 4 {
		t.Errorf("shared table holds %d keys, want the union of 4", sr.keys.len())
	}
}
