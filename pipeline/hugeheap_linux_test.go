package pipeline

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/idsync/idsync/snapshots"
)

func TestHugeAligned(t *testing.T) {
	for _, c := range []struct {
		base   uintptr
		n      int
		lo, hi int
	}{
		{0, 4 * hugePage, 0, 4 * hugePage},
		{hugePage - 4096, 4 * hugePage, 4096, 4096 + 3*hugePage},
		{4096, hugePage, 0, 0}, // no whole page inside
		{4096, 2 * hugePage, hugePage - 4096, 2*hugePage - 4096},
	} {
		lo, hi := hugeAligned(c.base, c.n)
		if lo != c.lo || hi != c.hi {
			t.Errorf("hugeAligned(%#x, %d) = %d, %d; want %d, %d", c.base, c.n, lo, hi, c.lo, c.hi)
		}
	}
}

// TestAdviseHugeHeap: the advised stretch of heap is still mapped, and
// still advised, once Go has freed it and handed it back to the kernel;
// so the heap a first sync fills next gets huge pages. It reads the
// kernel's record of the advice (VmFlags "hg" in smaps), which the kernel
// keeps whatever its THP mode; the mode itself is the test's. That the
// allocator then fills this stretch is the runtime's doing, and shows in
// the bench: a 1M first plan's page faults fell from 440k to 50k.
func TestAdviseHugeHeap(t *testing.T) {
	needTHP(t)
	hostSettings(t, "always [madvise] never\n", "0\n")
	t.Setenv("GODEBUG", "")
	const size = 256 << 20 // address space: none of it is touched
	lo, hi, ok := adviseHugeRange(size)
	if !ok {
		t.Fatal("adviseHugeRange did not advise")
	}
	if hi-lo < size-hugePage {
		t.Fatalf("advised %d bytes of %d", hi-lo, size)
	}
	for _, addr := range []uintptr{lo, (lo + hi) / 2, hi - 1} {
		flags, err := vmFlags(addr)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(" "+flags+" ", " hg ") {
			t.Errorf("%#x, in the advised stretch, is in a mapping with flags %q, without hg", addr, flags)
		}
	}
	if _, _, ok := adviseHugeRange(hugePage); ok {
		t.Error("advised less than two huge pages")
	}
}

// vmFlags is the VmFlags line of the mapping that holds addr, from
// /proc/self/smaps.
func vmFlags(addr uintptr) (string, error) {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	inside := false
	for sc.Scan() {
		line := sc.Text()
		var lo, hi uintptr
		if _, err := fmt.Sscanf(line, "%x-%x ", &lo, &hi); err == nil && strings.Contains(line[:strings.IndexByte(line, ' ')], "-") {
			inside = lo <= addr && addr < hi
			continue
		}
		if rest, ok := strings.CutPrefix(line, "VmFlags:"); ok && inside {
			return strings.TrimSpace(rest), nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", fmt.Errorf("no mapping holds %#x", addr)
}

// TestNoHugeHeapUnderAnAddressSpaceLimit: under ulimit -v the reservation
// could be what passes the limit, and Go dies on a heap it cannot map.
func TestNoHugeHeapUnderAnAddressSpaceLimit(t *testing.T) {
	hostSettings(t, "always [madvise] never\n", "0\n")
	t.Setenv("GODEBUG", "")
	var old unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_AS, &old); err != nil {
		t.Fatal(err)
	}
	if old.Cur != unix.RLIM_INFINITY {
		t.Skipf("this process already runs under an address space limit (%d bytes)", old.Cur)
	}
	limit := unix.Rlimit{Cur: 1 << 50, Max: old.Max} // far above anything the test maps
	if err := unix.Setrlimit(unix.RLIMIT_AS, &limit); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := unix.Setrlimit(unix.RLIMIT_AS, &old); err != nil {
			t.Fatal(err)
		}
	}()
	if _, _, ok := adviseHugeRange(64 << 20); ok {
		t.Error("advised under an address space limit")
	}
}

// TestPlansOfManyCreatesAdviseTheirHeap: a first sync, bounded by
// opsPerRun or not, advises its heap before it reads, four times as much
// when it is planned to be applied; the plan after it, which creates
// nothing, does not (its 8,000 keys are too few for the advice of later
// plans, hugeheap_later.go); nor does a first sync whose memory the user
// manages (no PlanMemoryLimit: GOGC or GOMEMLIMIT is set).
func TestPlansOfManyCreatesAdviseTheirHeap(t *testing.T) {
	needTHP(t)
	hostSettings(t, "always [madvise] never\n", "0\n")
	t.Setenv("GODEBUG", "")
	restore := hugeHeapLeast
	t.Cleanup(func() { hugeHeapLeast = restore; laterHeapAdvised.Store(false) })
	hugeHeapLeast = 1
	var csv strings.Builder
	csv.WriteString("id,name,dept,level\n")
	for i := range 8000 { // op lists of about 1.5 MB: advice for 6 MB, past two huge pages
		fmt.Fprintf(&csv, "E%d,N%d,d,%d\n", i, i, 1+i%5)
	}
	// plans returns how many heaps the first plan and the next advised,
	// and how many bytes the first did.
	plans := func(config string, limit int64, apply bool) (advised []int64, bytes int64) {
		t.Helper()
		f := newFixture(t, map[string]string{"idsync.yaml": config, "day1.csv": csv.String()})
		e := f.engine(map[string]string{"HR": "day1.csv"})
		e.opts.PlanMemoryLimit = limit
		for i := range 2 {
			before, beforeBytes := hugeHeapsAdvised.Load(), hugeHeapBytes.Load()
			p, err := e.Plan(t.Context(), PlanOptions{Apply: apply})
			if err != nil {
				t.Fatal(err)
			}
			advised = append(advised, hugeHeapsAdvised.Load()-before)
			if i == 0 {
				bytes = hugeHeapBytes.Load() - beforeBytes
			}
			if _, err := e.Apply(t.Context(), p, ApplyOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		return advised, bytes
	}
	unbounded := strings.Replace(smallConfig, "    source: hr\n", "    source: hr\n    opsPerRun: 0\n", 1)
	sizes := map[bool]int64{}
	for name, c := range map[string]struct {
		config string
		limit  int64
		apply  bool
		want   []int64
	}{
		"unbounded":            {unbounded, 4 << 30, false, []int64{1, 0}},
		"unbounded, applied":   {unbounded, 4 << 30, true, []int64{1, 0}},
		"bounded by opsPerRun": {smallConfig, 4 << 30, false, []int64{1, 0}},
		"memory the user's":    {unbounded, 0, true, []int64{0, 0}},
	} {
		got, bytes := plans(c.config, c.limit, c.apply)
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: heaps advised by the first plan and the next = %v, want %v", name, got, c.want)
		}
		if c.config == unbounded && c.limit > 0 {
			sizes[c.apply] = bytes
		}
	}
	if sizes[false] <= 0 || sizes[true] != 4*sizes[false] {
		t.Errorf("first plans advised %d bytes to print and %d to apply, want four times as much to apply", sizes[false], sizes[true])
	}
}

// needTHP skips a test that needs the kernel to take huge-page advice: a
// kernel built without transparent huge pages refuses it (EINVAL).
func needTHP(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(thpSetting); err != nil {
		t.Skipf("no transparent huge pages in this kernel: %v", err)
	}
}

// laterAdviceHost makes this host one where later plans advise their heap
// (THP "madvise"), and a plan of 600 keys large enough to: 9.6 MB of
// advice, past two huge pages.
func laterAdviceHost(t *testing.T) {
	t.Helper()
	needTHP(t)
	hostSettings(t, "always [madvise] never\n", "0\n")
	t.Setenv("GODEBUG", "")
	restoreLeast, restorePerKey := hugeHeapLeast, hugeHeapPerKey
	t.Cleanup(func() { hugeHeapLeast, hugeHeapPerKey = restoreLeast, restorePerKey; laterHeapAdvised.Store(false) })
	hugeHeapLeast, hugeHeapPerKey = 1, 16<<10
}

// TestAProcesssFirstLaterPlanAdvisesItsHeap: after a first sync, the
// first plan large enough advises its heap, a delta or a full plan; the
// plans after it in the process do not.
func TestAProcesssFirstLaterPlanAdvisesItsHeap(t *testing.T) {
	laterAdviceHost(t)
	cfg := strings.Replace(smallConfig, "    key: id\n", "    read: delta\n    delta: delta.csv\n    key: id\n", 1)
	var day1, delta strings.Builder
	day1.WriteString("id,name,dept,level\n")
	delta.WriteString("id,name,dept,level,_deleted\n")
	for i := range 600 { // a delta's advice: 9.6 MB too
		fmt.Fprintf(&day1, "E%d,N%d,d,%d\n", i, i, 1+i%5)
		fmt.Fprintf(&delta, "E%d,M%d,d,%d,false\n", i, i, 1+i%5)
	}
	for name, order := range map[string][]bool{"delta first": {false, false, true}, "full first": {true, false, true}} {
		t.Run(name, func(t *testing.T) {
			laterHeapAdvised.Store(false)
			f := newFixture(t, map[string]string{"idsync.yaml": cfg, "day1.csv": day1.String(), "delta.csv": delta.String()})
			e := f.engine(nil)
			e.opts.PlanMemoryLimit = 4 << 30
			p, err := e.Plan(t.Context(), PlanOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.Apply(t.Context(), p, ApplyOptions{}); err != nil {
				t.Fatal(err)
			}
			var advised []int64
			for _, full := range order {
				before := hugeHeapsAdvised.Load()
				p, err := e.Plan(t.Context(), PlanOptions{Full: full})
				if err != nil {
					t.Fatal(err)
				}
				if p.Sources[0].Full != full {
					t.Fatalf("a plan read in full: %v, want %v", p.Sources[0].Full, full)
				}
				advised = append(advised, hugeHeapsAdvised.Load()-before)
			}
			if want := []int64{1, 0, 0}; !slices.Equal(advised, want) {
				t.Errorf("heaps advised by the plans after the first sync (full: %v) = %v, want %v", order, advised, want)
			}
		})
	}
}

// TestAFullPlanThatMakesTheIndexFilesAdvisesNothing: a full plan over
// state with no index cache files (a large apply dropped them) walks
// Badger to make them, and its garbage would spread over huge pages; it
// leaves the process's advice to the next plan, which reads the files.
func TestAFullPlanThatMakesTheIndexFilesAdvisesNothing(t *testing.T) {
	laterAdviceHost(t)
	var day1 strings.Builder
	day1.WriteString("id,name,dept,level\n")
	for i := range 600 {
		fmt.Fprintf(&day1, "E%d,N%d,d,%d\n", i, i, 1+i%5)
	}
	f := newFixture(t, map[string]string{"idsync.yaml": smallConfig, "day1.csv": day1.String()})
	f.apply(nil, ApplyOptions{})
	if err := os.RemoveAll(filepath.Join(f.dir, "state", "index-cache")); err != nil {
		t.Fatal(err)
	}
	f.reopen(snapshots.Options{})
	laterHeapAdvised.Store(false)
	e := f.engine(nil)
	e.opts.PlanMemoryLimit = 4 << 30
	var advised []int64
	for range 3 {
		before := hugeHeapsAdvised.Load()
		if _, err := e.Plan(t.Context(), PlanOptions{Full: true}); err != nil {
			t.Fatal(err)
		}
		advised = append(advised, hugeHeapsAdvised.Load()-before)
	}
	if want := []int64{0, 1, 0}; !slices.Equal(advised, want) {
		t.Errorf("heaps advised by three full plans, the first without index files = %v, want %v", advised, want)
	}
}
