package pipeline

import "runtime/debug"

// planGC sets Go's GC percent to percent, when above zero, and returns what
// sets it back.
//
// A first plan keeps nearly everything it allocates: its ops, millions of
// them. At Go's default of 100 the collector runs each time the heap has
// doubled and marks the whole plan built so far, which comes to marking it
// about twice over; on a 1M-identity first plan that was 40% of the CPU.
// At 200 it runs half as often, and the peak memory is still the plan's
// own. A plan of few changes keeps little, so there it only moves the
// peak by the garbage between collections (about 5% on a steady-state
// plan). Apply keeps the process's setting: it makes mostly garbage, and
// its peak would grow by the plan's size.
func planGC(percent int) (restore func()) {
	if percent <= 0 {
		return func() {}
	}
	old := debug.SetGCPercent(percent)
	return func() { debug.SetGCPercent(old) }
}
