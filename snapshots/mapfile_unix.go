//go:build unix

package snapshots

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// mapRange maps n bytes of f from off for reading, and returns what
// unmaps them. A mapping starts on a page, so the one made may start a
// little before off.
func mapRange(f *os.File, off int64, n int) ([]byte, func(), error) {
	start := off &^ int64(os.Getpagesize()-1)
	b, err := unix.Mmap(int(f.Fd()), start, n+int(off-start), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, nil, err
	}
	return b[off-start:], func() { releaseMapping(b) }, nil
}

// releaseMapping unmaps b. Under test it leaves the addresses mapped but
// unreadable instead, so that a use after release faults rather than
// reading whatever the addresses were mapped to next.
func releaseMapping(b []byte) {
	if testing.Testing() {
		_ = unix.Mprotect(b, unix.PROT_NONE)
		return
	}
	_ = unix.Munmap(b)
}
