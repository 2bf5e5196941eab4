package pipeline

import (
	"os"
	"path/filepath"
	"testing"
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
	op := int64(createUnit)
	least := (hugeHeapLeast + op - 1) / op         // the fewest creates whose ops fill hugeHeapLeast
	for creates, want := range map[int64][2]int64{ // printed, applied
		-1:         {0, 0},
		0:          {0, 0},
		least - 1:  {0, 0},
		least:      {4 * least * op, 16 * least * op},
		1_000_000:  {4 * 1_000_000 * op, 16 * 1_000_000 * op},
		3_000_000:  {4 * 3_000_000 * op, hugeHeapMost},
		30_000_000: {hugeHeapMost, hugeHeapMost},
	} {
		for i, apply := range []bool{false, true} {
			if got := hugeHeapFor(creates, apply); got != want[i] {
				t.Errorf("hugeHeapFor(%d, %v) = %d, want %d", creates, apply, got, want[i])
			}
		}
	}
}

func TestLaterHugeHeap(t *testing.T) {
	t.Cleanup(func() { laterHeapAdvised.Store(false) })
	fewestRecords := int((hugeHeapLeast + hugeHeapPerDeltaRecord - 1) / hugeHeapPerDeltaRecord)
	fewestKeys := int((hugeHeapLeast + hugeHeapPerKey - 1) / hugeHeapPerKey)
	for _, c := range []struct {
		full       bool
		rows, keys int
		want       int64
	}{
		{false, -1, 0, 0},
		{false, fewestRecords - 1, 0, 0},
		{false, fewestRecords, 0, int64(fewestRecords) * hugeHeapPerDeltaRecord},
		{false, 10_000, 10_000_000, 10_000 * hugeHeapPerDeltaRecord}, // a delta's size is its records'
		{false, 1_000_000, 0, hugeHeapDeltaMost},
		{true, -1, fewestKeys - 1, 0},
		{true, fewestKeys, 0, int64(fewestKeys) * hugeHeapPerKey},
		{true, 10, 1_000_000, 1_000_000 * hugeHeapPerKey}, // entries count when there are more
		{true, 1_000_000, 10, 1_000_000 * hugeHeapPerKey},
		{true, 100_000_000, 0, hugeHeapMost},
	} {
		laterHeapAdvised.Store(false)
		if got := laterHugeHeap(c.full, c.rows, c.keys); got != c.want {
			t.Errorf("laterHugeHeap(%v, %d, %d) = %d, want %d", c.full, c.rows, c.keys, got, c.want)
		}
	}
	if got := laterHugeHeap(true, 1_000_000, 0); got != 0 {
		t.Errorf("a second later plan in the process: laterHugeHeap = %d, want 0", got)
	}
}
