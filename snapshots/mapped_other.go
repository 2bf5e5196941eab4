//go:build !linux

package snapshots

// TrimMapped does nothing here: it reads Linux's /proc (see mapped.go).
func (s *Store) TrimMapped() {}

func (t *mappedTrim) start(dir string, opts Options) {}
