package snapshots

import (
	"fmt"
	"testing"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	"github.com/google/go-cmp/cmp"
)

// TestTablesWrittenUncompressedStillRead: states from before Snappy hold
// uncompressed tables. Badger keeps each table's compression in its
// manifest, so a store opened with Snappy reads them, beside compressed
// ones, and a compaction rewrites them compressed. It fails if the
// tables were read with the store's options instead.
func TestTablesWrittenUncompressedStillRead(t *testing.T) {
	dir := t.TempDir()
	write := func(from, to int, opts Options) {
		s, err := Open(dir, opts)
		must(t, err)
		for i := from; i < to; i++ {
			e := Entry{Key: fmt.Sprintf("E%06d", i), ID: fmt.Sprint(i), Hash: uint64(i) + 1,
				Attrs: fmt.Appendf(nil, `{"displayName":"User %d","department":"Department %d"}`, i, i%17)}
			must(t, s.Commit("t", Change{Entry: e}))
		}
		must(t, s.Close()) // flushes the memtable to a table
	}
	plain := Options{tune: func(o badger.Options) badger.Options {
		return o.WithCompression(options.None).WithBlockCacheSize(0)
	}}
	write(0, 3000, plain)
	want := func() map[string]string {
		s, err := Open(dir, plain)
		must(t, err)
		defer func() { must(t, s.Close()) }()
		return dump(t, s, objectPrefix("t"))
	}()
	write(3000, 6000, Options{})

	s, err := Open(dir, Options{})
	must(t, err)
	defer func() { must(t, s.Close()) }()
	kinds := map[bool]int{} // compressed or not: a table's bytes on disk under what they hold
	for _, ti := range s.db.Tables() {
		kinds[ti.OnDiskSize < ti.UncompressedSize/2]++
	}
	if kinds[true] == 0 || kinds[false] == 0 {
		t.Fatalf("tables compressed or not: %v, want both", kinds)
	}
	got := dump(t, s, objectPrefix("t"))
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("%q: %q from the uncompressed table, want %q", k, got[k], v)
		}
	}
	if len(got) <= len(want) {
		t.Fatalf("%d entries, want more than the %d written uncompressed", len(got), len(want))
	}
	must(t, s.db.Flatten(1))
	if again := dump(t, s, objectPrefix("t")); !cmp.Equal(again, got) {
		t.Error("a compaction changed what the store reads")
	}
}
