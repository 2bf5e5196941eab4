package pipeline

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/idsync/idsync/pipeline/config"
	"github.com/idsync/idsync/pipeline/plan"
	"github.com/idsync/idsync/snapshots"
)

// TestKeyTableFindsEveryKeyEvenWhenHashesCollide numbers keys in a table
// whose hash sends every key to the same value, so all but the first go
// through the spill map, and checks that every key is found under its
// own number and that unknown keys are not.
func TestKeyTableFindsEveryKeyEvenWhenHashesCollide(t *testing.T) {
	for _, collide := range []bool{false, true} {
		t.Run(fmt.Sprint("collide=", collide), func(t *testing.T) {
			k := newKeyTable(0)
			if collide {
				k.sum = func(string) uint64 { return 42 }
			}
			for i := range 50 {
				if n := k.add(fmt.Appendf(nil, "E%d", i)); n != int32(i) {
					t.Fatalf("add numbered E%d as %d", i, n)
				}
			}
			for i := range 50 {
				key := fmt.Sprintf("E%d", i)
				if n, ok := k.find(key); !ok || n != int32(i) || k.key(n) != key {
					t.Errorf("find(%s) = %d, %v", key, n, ok)
				}
			}
			for _, key := range []string{"E50", "", "E"} {
				if _, ok := k.find(key); ok {
					t.Errorf("find(%q) found a number", key)
				}
			}
			if collide && len(k.spill) != 49 {
				t.Errorf("spill holds %d keys, want 49: the test did not collide them", len(k.spill))
			}
		})
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
