package pipeline

import "runtime/debug"

// planGC sets Go's GC percent to percent, when above zero, and returns what
// sets it back. Plan calls it for an unbounded first sync only.
//
// A first plan keeps nearly everything it allocates: its ops, millions of
// them. At Go's default of 100 the collector runs each time the heap has
// doubled and marks the whole plan built so far, which comes to marking it
// about twice over; on a 1M-identity first plan the collector was 40% of
// the CPU. At 200 it runs half as often, and the peak memory is still the
// plan's own. A later plan keeps little but makes as much garbage, so
// there a higher percent would only raise the peak. Apply keeps the
// process's setting too: its peak would grow by the plan's size.
func planGC(percent int) (restore func()) {
	if percent <= 0 {
		return func() {}
	}
	old := debug.SetGCPercent(percent)
	return func() { debug.SetGCPercent(old) }
}

// firstSync reports whether no target has state yet and none bounds its
// ops: the plan will be all the creates, kept to the end. A bounded plan
// (opsPerRun) stops growing at its bound, and the rest of its read is
// garbage, for which a higher percent only raised the peak (a 10M first
// wave: the same 17 s, 0.5 GB more).
func (e *Engine) firstSync() (bool, error) {
	for _, s := range e.c.sources {
		for _, t := range s.targets {
			if t.cfg.OpsPerRun > 0 {
				return false, nil
			}
			if n, err := e.store.Count(t.cfg.Name); err != nil || n > 0 {
				return false, err
			}
		}
	}
	return true, nil
}
