//go:build !linux

package snapshots

import badger "github.com/dgraph-io/badger/v4"

// TrimMapped does nothing here: it reads Linux's /proc (see mapped.go).
func (s *Store) TrimMapped() {}

func (t *mappedTrim) start(dir string, opts Options, tables []badger.TableInfo) {}
