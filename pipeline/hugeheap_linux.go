package pipeline

import (
	"runtime"
	"runtime/debug"
	"unsafe"

	"golang.org/x/sys/unix"
)

// hugePage is the size of a transparent huge page with 4 KB base pages
// (amd64, and arm64 as most distributions build it). Where it is larger,
// the advice still holds; only the trimming to whole pages is too short.
const hugePage = 2 << 20

// adviseHugeHeap makes the next size bytes of Go's heap huge-page
// backed, when wantsHugeHeap, and reports whether it did.
//
// Go maps its heap with mmap and never maps it again, so advice given to
// a mapped range stays with it; but advice given before the runtime maps
// a range is lost, and the runtime maps the heap as it grows. So this
// grows it first: a large allocation fresh from the kernel, which Go does
// not touch (it knows such memory is zero), is advised MADV_HUGEPAGE and
// then freed and handed back (debug.FreeOSMemory), which tells Go they
// are zero again, so it does not clear them before use. The pages stay
// mapped and advised, and the allocator, which takes the lowest free
// pages first, fills them next.
func adviseHugeHeap(size int64) bool {
	_, _, ok := adviseHugeRange(size)
	if ok {
		hugeHeapsAdvised.Add(1)
		hugeHeapBytes.Add(size)
	}
	return ok
}

// adviseHugeRange is adviseHugeHeap, and says which addresses it advised.
func adviseHugeRange(size int64) (lo, hi uintptr, ok bool) {
	if size < 2*hugePage || !wantsHugeHeap() || !unlimitedAddressSpace() {
		return 0, 0, false
	}
	b := make([]byte, size)
	base := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	from, to := hugeAligned(base, len(b))
	err := unix.Madvise(b[from:to], unix.MADV_HUGEPAGE)
	runtime.KeepAlive(b)
	debug.FreeOSMemory()
	return base + uintptr(from), base + uintptr(to), err == nil
}

// hugeAligned is the part of n bytes at base that whole huge pages cover,
// as offsets from base: a huge page is only ever placed at an aligned
// address, and advice on a part page is wasted.
func hugeAligned(base uintptr, n int) (lo, hi int) {
	lo = int((hugePage - base%hugePage) % hugePage)
	if lo >= n || n-lo < hugePage {
		return 0, 0
	}
	return lo, lo + (n-lo)/hugePage*hugePage
}

// unlimitedAddressSpace says whether the process may map as much address
// space as it likes. Under a limit (ulimit -v), the reservation could be
// what passes it, and Go cannot recover from a heap it fails to map.
func unlimitedAddressSpace() bool {
	var l unix.Rlimit
	return unix.Getrlimit(unix.RLIMIT_AS, &l) == nil && l.Cur == unix.RLIM_INFINITY
}
