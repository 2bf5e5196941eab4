package snapshots

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestPlansOpenWithASmallMemtable: a store opened without compactions, as
// a plan opens it, takes a small memtable; but one whose last process
// left a memtable file opens with the full size, and reads back what that
// file holds (a memtable of more than the small size would not fit).
func TestPlansOpenWithASmallMemtable(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	must(t, err)
	if got := s.db.Opts().MemTableSize; got != memTable {
		t.Errorf("an apply's store: memtable %d, want %d", got, memTable)
	}
	// More than the small memtable takes, in many small entries: values
	// over 1 KB would go to the value log instead.
	for i := range 60 {
		changes := make([]Change, 0, 1000)
		for j := range 1000 {
			key := fmt.Sprintf("E%03d%04d", i, j)
			changes = append(changes, Change{Entry: Entry{Key: key, ID: "id-" + key, Hash: uint64(i*1000 + j), Attrs: []byte(strings.Repeat("x", 100))}})
		}
		must(t, s.Commit("t", changes...))
	}
	want := dump(t, s, objectPrefix("t"))
	// A copy while it is open is a store whose process stopped first.
	left := t.TempDir()
	copyDir(t, dir, left)
	must(t, s.Close())
	mems, err := filepath.Glob(filepath.Join(left, "*.mem"))
	must(t, err)
	if len(mems) == 0 {
		t.Fatal("the copy holds no memtable file")
	}

	for _, c := range []struct {
		dir  string
		want int64
	}{{dir, planMemTable}, {left, memTable}} {
		s, err := Open(c.dir, Options{NoCompactions: true})
		must(t, err)
		if got := s.db.Opts().MemTableSize; got != c.want {
			t.Errorf("%s: a plan's store opened with memtable %d, want %d", c.dir, got, c.want)
		}
		if got := dump(t, s, objectPrefix("t")); !cmp.Equal(got, want) {
			t.Errorf("%s: %d entries read back, want %d", c.dir, len(got), len(want))
		}
		must(t, s.Close())
	}
}

// copyDir copies the files directly in from into to.
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	files, err := os.ReadDir(from)
	must(t, err)
	for _, f := range files {
		if f.IsDir() {
			continue
		}
		src, err := os.Open(filepath.Join(from, f.Name()))
		must(t, err)
		dst, err := os.Create(filepath.Join(to, f.Name()))
		must(t, err)
		_, err = io.Copy(dst, src)
		must(t, err)
		must(t, src.Close())
		must(t, dst.Close())
	}
}
