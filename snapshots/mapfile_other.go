//go:build !unix

package snapshots

import "os"

// mapRange reads n bytes of f from off where the store does not map
// files.
func mapRange(f *os.File, off int64, n int) ([]byte, func(), error) {
	b := make([]byte, n)
	if _, err := f.ReadAt(b, off); err != nil {
		return nil, nil, err
	}
	return b, func() {}, nil
}
