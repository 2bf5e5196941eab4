//go:build unix

package snapshots

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// mapFile maps the first n bytes of f for reading, and returns what
// unmaps them.
func mapFile(f *os.File, n int) ([]byte, func(), error) {
	b, err := unix.Mmap(int(f.Fd()), 0, n, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, nil, err
	}
	return b, func() { releaseMapping(b) }, nil
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
