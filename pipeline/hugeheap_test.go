package pipeline

import (
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"github.com/idsync/idsync/pipeline/plan"
)

// hostSettings points the huge-page checks at files holding thp and
// overcommit, for the rest of the test.
func hostSettings(t *testing.T, thp, overcommit string) {
	t.Helper()
	dir := t.TempDir()
	oldTHP, oldPolicy := thpSetting, overcommitPolicy
	t.Cleanup(func() { thpSetting, overcommitPolicy = oldTHP, oldPolicy })
	thpSetting, overcommitPolicy = filepath.Join(dir, "enabled"), filepath.Join(dir, "overcommit_memory")
	for path, body := range map[string]string{thpSetting: thp, overcommitPolicy: overcommit} {
		if body == "" {
			continue // the file is missing
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestHugePageMode(t *testing.T) {
	for setting, want := range map[string]string{
		"always [madvise] never\n": "madvise",
		"[always] madvise never\n": "always",
		"always madvise [never]\n": "never",
		"always madvise never\n":   "",
		"[madvise\n":               "",
		"":                         "", // missing
	} {
		hostSettings(t, setting, "0\n")
		if got := HugePageMode(); got != want {
			t.Errorf("setting %q: HugePageMode() = %q, want %q", setting, got, want)
		}
	}
}

// TestWantsHugeHeap: advice only where the kernel leaves huge pages to
// the program, the user has not turned them off, and a reservation
// charges no memory.
func TestWantsHugeHeap(t *testing.T) {
	cases := []struct {
		thp, overcommit, godebug string
		want                     bool
	}{
		{"always [madvise] never\n", "0\n", "", true},
		{"always [madvise] never\n", "1\n", "madvdontneed=1", true},
		{"[always] madvise never\n", "0\n", "", false},
		{"always madvise [never]\n", "0\n", "", false},
		{"", "0\n", "", false},
		{"always [madvise] never\n", "2\n", "", false},
		{"always [madvise] never\n", "", "", false},
		{"always [madvise] never\n", "0\n", "gctrace=1, disablethp=1", false},
	}
	for _, c := range cases {
		hostSettings(t, c.thp, c.overcommit)
		t.Setenv("GODEBUG", c.godebug)
		if got := wantsHugeHeap(); got != c.want {
			t.Errorf("THP %q, overcommit %q, GODEBUG %q: wantsHugeHeap() = %v, want %v", c.thp, c.overcommit, c.godebug, got, c.want)
		}
	}
}

func TestHugeHeapFor(t *testing.T) {
	op := int(unsafe.Sizeof(plan.Op{}))
	least := int((hugeHeapLeast + int64(op) - 1) / int64(op)) // the fewest rows whose creates in one target fill hugeHeapLeast
	half := (least + 1) / 2
	for _, c := range []struct {
		rows, targets int
		want          int64
	}{
		{-1, 3, 0},
		{0, 3, 0},
		{least - 1, 1, 0},
		{least, 1, 4 * int64(least*op)},
		{half, 2, 4 * int64(half*2*op)},
		{half - 1, 2, 0},
		{1_000_000, 3, 4 * int64(3_000_000*op)},
		{10_000_000, 3, hugeHeapMost},
	} {
		if got := hugeHeapFor(c.rows, c.targets); got != c.want {
			t.Errorf("hugeHeapFor(%d, %d) = %d, want %d", c.rows, c.targets, got, c.want)
		}
	}
}
