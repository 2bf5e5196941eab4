package pipeline

import "runtime/debug"

// planGC sets Go's GC percent to percent, when above zero, and returns what
// sets it back. Plan calls it for an unbounded first sync only.
//
// A first plan keeps nearly everything it allocates: its ops, millions of
// them. At Go's default of 100 the collector runs each time the heap has
// doubled and marks the whole plan built so far, which comes to marking it
// about twice over; on a 1M-identity first plan the collector was 40% of
// the CPU. At 200 or 400 (idsync's setting) it runs a half or a quarter as
// often, and the peak memory is still the plan's own: the plan makes
// little garbage (see rowScratch). A later plan keeps little but makes as much garbage, so
// there a higher percent would only raise the peak. Apply keeps the
// process's setting too: its peak would grow by the plan's size.
func planGC(percent int) (restore func()) {
	if percent <= 0 {
		return func() {}
	}
	old := debug.SetGCPercent(percent)
	return func() { debug.SetGCPercent(old) }
}

// collectorOff turns Go's collector off until the heap reaches limit
// bytes, and returns what sets it back. Plan calls it, when so configured,
// for an unbounded first sync, as planGC otherwise.
//
// Such a plan keeps nearly all it allocates, so each collection marks the
// plan built so far and frees little. Worse, it scans the spare capacity
// of the op lists (presized for the whole read, see presizeOps): reading
// untouched memory maps the zero page there, and the recorder's write
// then takes a copy-on-write fault instead of a plain one. With the
// collector off and the op lists presized, a 1M first plan took 3.13-3.29
// s against 3.77-4.06 s in three pairs, at the same peak (2.17 GB against
// 2.11-2.14 GB): the garbage kept is about what doubling the op lists
// made. The limit still bounds the heap: there the collector runs as it
// does under GOMEMLIMIT.
func collectorOff(limit int64) (restore func()) {
	oldLimit := debug.SetMemoryLimit(limit)
	old := debug.SetGCPercent(-1)
	return func() {
		debug.SetGCPercent(old)
		debug.SetMemoryLimit(oldLimit)
	}
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

// sparseGC runs a plan that is not a first sync at a low GC percent for as
// long as it holds few ops: a steady plan, which keeps little.
//
// Such a plan's heap is mostly the state index, which holds no pointers
// and so costs a collection almost nothing to mark, and its garbage is the
// batches it reads. At Go's default of 100 that garbage grows to the size
// of the index before each collection. At 25, a 1M steady plan's own
// memory peaked at 273 MB instead of 435 MB for 5% more CPU, and a 10M
// one's at 1.47 GB instead of 2.41 GB for none.
//
// A plan where many records change (a policy change updates everyone) is
// the opposite case: each collection marks its ops, and with the low
// percent held throughout, a 1M-update plan took 24 s instead of 16 s.
// So once a plan holds more than one op for every eight records read, the
// process's own setting returns. The steady plans above hold one for every
// thirty.
type sparseGC struct {
	restore func() // nil when the process's setting holds
	percent int    // the percent it set, while restore is not nil
}

// sparseHeadroom is about how far past its state index a sparse plan's
// heap may grow between collections, and sparseMinPercent the least
// percent that buys. At 25 a 10M steady plan's index of 0.8 GB let the
// heap grow 200 MB past it: its own memory peaked at 994-1,003 MB in
// three runs, against 931-954 MB at 10, in the same time. At 1M, 10
// instead of 25 cost 12% more time (medians 1.53 s and 1.36 s, five
// runs each), since the collections come ten times as often. So the
// percent is the smaller of the process's sparse setting and what keeps
// the headroom near this, but not below the least.
const (
	sparseHeadroom   = 96 << 20
	sparseMinPercent = 10
)

// sparseMinRows is how many records a read judges its ops by: fewer could
// be one unlucky batch. A var so tests can change it.
var sparseMinRows = 1 << 16

func startSparseGC(percent int) *sparseGC {
	if percent <= 0 {
		return &sparseGC{}
	}
	return &sparseGC{restore: planGC(percent), percent: percent}
}

// indexed hears how many bytes the loaded state index holds, and lowers
// the percent for a large one (see sparseHeadroom).
func (g *sparseGC) indexed(bytes int64) {
	if g.restore == nil || bytes <= 0 {
		return
	}
	if p := max(sparseMinPercent, int(sparseHeadroom*100/bytes)); p < g.percent {
		debug.SetGCPercent(p)
		g.percent = p
	}
}

// holding hears how many ops the source being read has produced from how
// many records so far.
func (g *sparseGC) holding(ops, rows int) {
	if rows >= sparseMinRows && ops*8 > rows {
		g.end()
	}
}

// end restores the process's setting, once.
func (g *sparseGC) end() {
	if g.restore != nil {
		g.restore()
		g.restore = nil
	}
}
