package pipeline

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"

	"github.com/idsync/idsync/pipeline/config"
	"github.com/idsync/idsync/pipeline/plan"
	"github.com/idsync/idsync/snapshots"
)

// TestKeyTableFindsEveryKeyEvenWhenHashesCollide numbers keys in each
// kind of table and checks that every key is found under its own number
// and that unknown keys are not. With collide, the hash sends every key to
// the same value, so every key shares its cell's half hash and a find
// probes past the others. A sorted table is checked by binary search, by
// good and bad guesses, after it has built its hash table for missing too
// many guesses, and after a key out of order has turned it into a plain
// table.
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
			})
		}
	}
}

// TestFullIndexesShareOneKeyTable loads three targets with overlapping
// key sets (one empty) and checks each target's view: what it manages,
// what it does not, by key and by shared position, and in key order. The
// scans reach the merge in chunks, so it runs at chunk sizes from one
// entry up, and again on random key sets larger than several chunks.
func TestFullIndexesShareOneKeyTable(t *testing.T) {
	defer func(n int) { chunkEntries = n }(chunkEntries)
	for _, chunk := range []int{1, 2, 1 << 14} {
		chunkEntries = chunk
		t.Run(fmt.Sprint("chunk=", chunk), func(t *testing.T) {
			checkSharedIndexes(t, map[string][]string{"a": {"E1", "E2", "E4"}, "b": {"E3", "E2"}, "c": nil})
		})
	}
	rng := rand.New(rand.NewPCG(7, 7))
	for _, chunk := range []int{3, 16, 64} {
		chunkEntries = chunk
		t.Run(fmt.Sprint("random, chunk=", chunk), func(t *testing.T) {
			managed := map[string][]string{}
			for _, name := range []string{"a", "b", "c"} {
				share := rng.Float64()
				for i := range 400 {
					if rng.Float64() < share {
						managed[name] = append(managed[name], fmt.Sprintf("E%d", i))
					}
				}
			}
			checkSharedIndexes(t, managed)
		})
	}
}

// checkSharedIndexes commits managed's keys (target to keys) with ids
// named after both, loads the full indexes and checks each target's view:
// first merged from the targets' files, then read back merged
// (indexblob.go).
func checkSharedIndexes(t *testing.T, managed map[string][]string) {
	t.Helper()
	st, err := snapshots.Open(t.TempDir(), snapshots.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	var runs []*targetRun
	all := map[string]bool{}
	for _, name := range []string{"a", "b", "c"} {
		for i, key := range managed[name] {
			all[key] = true
			en := snapshots.Entry{Key: key, ID: name + "-" + key, Hash: spreadHash(i), Disabled: i%3 == 1, Deprovisioned: i%3 == 2}
			if err := st.Commit(name, snapshots.Change{Entry: en}); err != nil {
				t.Fatal(err)
			}
		}
		runs = append(runs, &targetRun{t: &target{cfg: &config.Target{Name: name}}, out: &plan.Target{Managed: len(managed[name])}})
	}
	keys := slices.Sorted(maps.Keys(all))
	e := &Engine{store: st, opts: Options{Log: slog.New(slog.DiscardHandler)}}
	for _, want := range []string{"store", "merged"} {
		sr := fullRun()
		if _, from, err := e.mergeIndexes("hr", []string{"a", "b", "c"}, 0); err != nil || from[0] != want {
			t.Fatalf("the index came from %v (%v); want %s", from, err, want)
		}
		if err := e.loadIndexes(sr, runs); err != nil {
			t.Fatal(err)
		}
		checkIndexViews(t, sr, runs, keys, managed)
	}
}

// checkIndexViews checks each target's view of the shared index of
// managed, whose keys are keys.
func checkIndexViews(t *testing.T, sr *sourceRun, runs []*targetRun, keys []string, managed map[string][]string) {
	t.Helper()
	for _, tr := range runs {
		name := tr.t.cfg.Name
		var got []string
		tr.index.each(func(key string, _ position, ie indexEntry) {
			got = append(got, fmt.Sprintf("%s=%s %d %v %v", key, ie.id, ie.hash, ie.disabled, ie.deprovisioned))
		})
		var want []string
		for _, key := range append(keys, "E9999") {
			i := slices.Index(managed[name], key)
			in := i >= 0
			if in {
				want = append(want, fmt.Sprintf("%s=%s-%s %d %v %v", key, name, key, spreadHash(i)&^slotFlags, i%3 == 1, i%3 == 2))
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
	}
	if sr.keys.len() != len(keys) {
		t.Errorf("shared table holds %d keys, want the union of %d", sr.keys.len(), len(keys))
	}
	checkUnseen(t, sr.keys, runs, managed)
}

// checkUnseen reads every third key of the shared table, and checks that
// each target's unseen entries are its managed keys that were not read:
// what a full plan deprovisions.
func checkUnseen(t *testing.T, keys *keyTable, runs []*targetRun, managed map[string][]string) {
	t.Helper()
	seen := newSeenSet(keys, keys.len())
	read := map[string]bool{}
	for n := int32(0); n < int32(keys.len()); n += 3 {
		key := keys.key(n)
		seen.add(key, position{n, true}, int64(n)+1)
		read[key] = true
	}
	for _, tr := range runs {
		name := tr.t.cfg.Name
		var got, want []string
		tr.index.unseen(seen, func(key string, ie indexEntry) {
			got = append(got, key+"="+ie.id.String())
		})
		for _, key := range slices.Sorted(slices.Values(managed[name])) {
			if !read[key] {
				want = append(want, key+"="+name+"-"+key)
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("target %s: unseen (-want +got):\n%s", name, diff)
		}
	}
}

// TestKeyTableFollowsANumericOrder reads keys in numeric order, E1000 to
// E1999 and then E10000 to E19999, from a sorted table that lacks every
// seventh 4-digit key (hires, or records no target manages), guessing
// each key's place from the one before. String order puts ten 5-digit
// keys between two 4-digit ones, so a guess is often a few keys short;
// looking a little ahead, and going on from a missing key's place, the
// table finds every key it holds without missing its way into building a
// hash table.
func TestKeyTableFollowsANumericOrder(t *testing.T) {
	var keys, held []string
	for i := 1000; i < 2000; i++ {
		keys = append(keys, fmt.Sprint("E", i))
		if i%7 != 0 {
			held = append(held, fmt.Sprint("E", i))
		}
	}
	for i := 10000; i < 20000; i++ {
		keys = append(keys, fmt.Sprint("E", i))
		held = append(held, fmt.Sprint("E", i))
	}
	k := newSortedKeyTable(len(held))
	k.mapAfter = 1000
	for _, key := range slices.Sorted(slices.Values(held)) {
		k.add([]byte(key))
	}
	guess := int32(-1)
	for _, key := range keys {
		n, ok := k.findNear(key, guess)
		if want := slices.Contains(held, key); ok != want || ok && k.key(n) != key {
			t.Fatalf("findNear(%q) = %d, %v; want found %v", key, n, ok, want)
		}
		guess = n
		if ok {
			guess++
		}
	}
	if k.hashed.Load() {
		t.Errorf("the table missed %d times and built its hash table", k.misses.Load())
	}
	// An absent key found missing at its place is not a miss; the first
	// key and the jump to E10000 are.
	if got := k.misses.Load(); got > 2 {
		t.Errorf("%d misses, want at most 2 (with %d keys absent)", got, len(keys)-len(held))
	}
}

// spreadHash is a fingerprint for test entry i, with its bits all over the
// word, the low ones too.
func spreadHash(i int) uint64 { return uint64(i+1) * 0x9e3779b97f4a7c15 }

// TestSlotKeepsFlagsBesideTheFingerprint: a slot gives back its flags and
// its fingerprint but for the low bits the flags take, and the plan's
// comparison ignores just those bits.
func TestSlotKeepsFlagsBesideTheFingerprint(t *testing.T) {
	x := &stateIndex{}
	for i := range 64 {
		h := spreadHash(i) ^ uint64(i) // every pattern of the low bits
		for _, flags := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
			s, id, err := newSlot(&x.ids, []byte(fmt.Sprint("key", i)), []byte(fmt.Sprint("id", i)), h, flags[0], flags[1])
			if err != nil {
				t.Fatal(err)
			}
			x.idOf = idOffsets{id}
			ie := x.entry(0, &s, fmt.Sprint("key", i))
			if !s.present() || ie.disabled != flags[0] || ie.deprovisioned != flags[1] || ie.id.String() != fmt.Sprint("id", i) {
				t.Fatalf("slot of %x %v: present %v, entry %+v", h, flags, s.present(), ie)
			}
			if !sameFingerprint(ie.hash, h) || !sameFingerprint(ie.hash, h^slotFlags) {
				t.Errorf("slot of %x %v: fingerprint %x does not match its own", h, flags, ie.hash)
			}
			for bit := 3; bit < 64; bit++ {
				if sameFingerprint(ie.hash, h^1<<bit) {
					t.Fatalf("slot of %x %v: a record differing in bit %d matches", h, flags, bit)
				}
			}
		}
	}
	if (slot{}).present() {
		t.Errorf("the zero slot is present")
	}
	if n := unsafe.Sizeof(slot{}); n != 8 {
		t.Errorf("a slot is %d bytes, want 8: a 10M plan holds 30M", n)
	}
}

// TestIndexRefusesIDsPastWhatSlotsAddress: a target whose ids would pass
// what a slot's 32-bit offset reaches fails its plan with a clear error,
// rather than wrap and give entries other entries' ids.
func TestIndexRefusesIDsPastWhatSlotsAddress(t *testing.T) {
	defer func(n int) { maxIDBytes = n }(maxIDBytes)
	st := memoryStore(t)
	for i := range 100 {
		en := snapshots.Entry{Key: fmt.Sprintf("E%03d", i), ID: fmt.Sprintf("uid=e%03d,ou=people,dc=example,dc=com", i), Hash: spreadHash(i)}
		if err := st.Commit("dir", snapshots.Change{Entry: en}); err != nil {
			t.Fatal(err)
		}
	}
	load := func() error {
		runs := []*targetRun{{t: &target{cfg: &config.Target{Name: "dir"}}, out: &plan.Target{Managed: 100}}}
		return (&Engine{store: st}).loadIndexes(fullRun(), runs)
	}
	if err := load(); err != nil {
		t.Fatalf("ids well within the bound: %v", err)
	}
	maxIDBytes = 50 * 40 // room for about half of them
	if err := load(); !errors.Is(err, errIDsFull) || !strings.Contains(err.Error(), "target dir") {
		t.Errorf("ids past the bound: %v, want errIDsFull naming the target", err)
	}
}

// TestKeyIDsMakeNoIDs: a target whose ids are all its keys (a file, a
// SQL table) makes no room for ids, nor for where they start, in a full
// read's index.
func TestKeyIDsMakeNoIDs(t *testing.T) {
	st := memoryStore(t)
	for i := range 100 {
		key := fmt.Sprintf("E%03d", i)
		if err := st.Commit("file", snapshots.Change{Entry: snapshots.Entry{Key: key, ID: key, Hash: spreadHash(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	runs := []*targetRun{{t: &target{cfg: &config.Target{Name: "file"}}, out: &plan.Target{Managed: 100}}}
	if err := (&Engine{store: st}).loadIndexes(fullRun(), runs); err != nil {
		t.Fatal(err)
	}
	if got := cap(runs[0].index.ids); got != 0 {
		t.Errorf("a target whose ids are its keys made %d bytes for ids, want none", got)
	}
	if got := cap(runs[0].index.idOf); got != 0 {
		t.Errorf("a target whose ids are its keys made room for %d id offsets, want none", got)
	}
}

// TestIndexKeepsIDsSmall: an entry whose id is its key keeps no second
// copy, and one whose id is a lowercase UUID keeps its 16 bytes; every
// entry reads back its id, beside ids kept as they are (an uppercase
// UUID, near-UUIDs, a DN), on a full and on a delta index.
func TestIndexKeepsIDsSmall(t *testing.T) {
	st := memoryStore(t)
	want := map[string]string{}
	other := 0 // the bytes the ids should take
	for i := range 200 {
		key := fmt.Sprintf("E%03d", i)
		uuid := fmt.Sprintf("%08x-%04x-4%03x-a%03x-%012x", spreadHash(i)>>32, i, i, i+1, spreadHash(i)>>16)
		var id string
		switch i % 6 {
		case 0:
			id = key
		case 1:
			id, other = uuid, other+17
		case 2:
			id = strings.ToUpper(uuid) // would come back lowercase
		case 3:
			id = uuid[:35] + "g" // not hex
		case 4:
			dash := []int{8, 13, 18, 23}[i/6%4]
			id = uuid[:dash] + "0" + uuid[dash+1:] // a dash missing
		case 5:
			id = "uid=" + key + ",ou=people"
		}
		if i%6 > 1 {
			other += 1 + len(id)
		}
		want[key] = id
		if err := st.Commit("dir", snapshots.Change{Entry: snapshots.Entry{Key: key, ID: id, Hash: spreadHash(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	runs := []*targetRun{{t: &target{cfg: &config.Target{Name: "dir"}}, out: &plan.Target{Managed: len(want)}}}
	if err := (&Engine{store: st}).loadIndexes(fullRun(), runs); err != nil {
		t.Fatal(err)
	}
	full := runs[0].index
	if len(full.ids) != other {
		t.Errorf("the full index's ids take %d bytes, want %d", len(full.ids), other)
	}
	seen := 0
	full.each(func(key string, p position, ie indexEntry) {
		seen++
		if ie.id.String() != want[key] {
			t.Errorf("full index: %s has id %q, want %q", key, ie.id, want[key])
		}
	})
	if seen != len(want) {
		t.Errorf("full index: %d entries, want %d", seen, len(want))
	}
	if cap(full.ids) < other {
		t.Errorf("the full index's ids have room for %d bytes, want at least %d", cap(full.ids), other)
	}
	delta := &stateIndex{store: st, target: "dir", keys: newKeyTable(0), stride: 1}
	for key, id := range want {
		ie, ok, err := delta.get(key)
		if err != nil || !ok || ie.id.String() != id {
			t.Errorf("delta index: %s has id %q (%v, %v), want %q", key, ie.id, ok, err, id)
		}
	}
	if len(delta.ids) != other {
		t.Errorf("the delta index's ids take %d bytes, want %d", len(delta.ids), other)
	}
}

// fullRun is a full read's run of a source named hr, as loadIndexes
// takes it.
func fullRun() *sourceRun {
	return &sourceRun{full: true, s: &source{cfg: &config.Source{Name: "hr"}}}
}
