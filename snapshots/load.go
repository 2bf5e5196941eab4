package snapshots

import "fmt"

// Load writes entries into a target that has none, in large write
// batches, with their reverse links, deprovisioned list and count. It
// skips the per-commit reads and serials of Commit, so a state of millions
// of entries (a benchmark's, or one imported from elsewhere) is written in
// seconds. next yields entries until ok is false.
func (s *Store) Load(target string, next func() (e Entry, ok bool)) error {
	if n, err := s.Count(target); err != nil {
		return err
	} else if n > 0 {
		return fmt.Errorf("target %s: load needs an empty target; it has %d entries", target, n)
	}
	// Loading writes too many entries to record one by one, and their
	// attributes.
	defer s.cache.forget(target, detailsTarget)()
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	count := uint64(0)
	for e, ok := next(); ok; e, ok = next() {
		if err := wb.Set(objectKey(target, e.Key), e.encode()); err != nil {
			return err
		}
		if len(e.Attrs) > 0 {
			if err := wb.Set(attrsKey(target, e.Key), e.Attrs); err != nil {
				return err
			}
		}
		if err := wb.Set(linkKey(target, e.ID), []byte(e.Key)); err != nil {
			return err
		}
		if e.Deprovisioned {
			if err := wb.Set(deprovKey(target, e.Key), putUint64(uint64(e.Since))); err != nil {
				return err
			}
		}
		count++
	}
	if err := wb.Set(countKey(target), putUint64(count)); err != nil {
		return err
	}
	return wb.Flush()
}
