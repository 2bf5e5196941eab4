package pipeline

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/idsync/idsync/snapshots"
)

// TestIndexFindsEveryKeyEvenWhenHashesCollide fills an index whose hash
// sends every key to the same value, so all but the first go through the
// spill map, and checks that every key is found with its own entry and
// that unknown keys are not.
func TestIndexFindsEveryKeyEvenWhenHashesCollide(t *testing.T) {
	for _, collide := range []bool{false, true} {
		t.Run(fmt.Sprint("collide=", collide), func(t *testing.T) {
			x, err := newIndex(nil, "dir", false, 0)
			if err != nil {
				t.Fatal(err)
			}
			if collide {
				x.sum = func(string) uint64 { return 42 }
			}
			var want []string
			for i := range 50 {
				key := fmt.Sprintf("E%d", i)
				x.add([]byte(key), &snapshots.IndexEntry{ID: []byte("id" + key), Hash: uint64(i), Deprovisioned: i%2 == 0})
				want = append(want, key)
			}
			x.add([]byte("gone"), nil) // looked up, not managed
			x.all = true
			for i, key := range want {
				ie, ok, err := x.get(key)
				if err != nil || !ok || ie.id != "id"+key || ie.hash != uint64(i) || ie.deprovisioned != (i%2 == 0) {
					t.Errorf("get(%s) = %+v, %v, %v", key, ie, ok, err)
				}
			}
			for _, key := range []string{"gone", "E50", ""} {
				if _, ok, _ := x.get(key); ok {
					t.Errorf("get(%q) found an entry", key)
				}
			}
			var got []string
			x.each(func(key string, ie indexEntry) { got = append(got, key) })
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("each (-want +got):\n%s", diff)
			}
			// 51 keys: the first takes the one hash value, the rest spill.
			if collide && len(x.spill) != 50 {
				t.Errorf("spill holds %d keys, want 50: the test did not collide them", len(x.spill))
			}
		})
	}
}
