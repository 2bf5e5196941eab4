package pipeline

import (
	"context"
	"runtime"
	"slices"
	"sync"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"golang.org/x/sync/semaphore"

	"github.com/idsync/idsync/connectors"
	"github.com/idsync/idsync/pipeline/plan"
	"github.com/idsync/idsync/rules"
)

// batchWork is one batch to evaluate; batchDone its results.
type batchWork struct {
	seq   int
	b     arrow.RecordBatch
	bytes int64 // its share of the read-ahead budget
}

type batchDone struct {
	seq   int
	keys  []string
	lines []int64
	tombs []bool
	// pos[row] is the key's place in a full read's shared key table.
	pos []position
	// results[row][target] is nil when the row needs nothing.
	results [][]*rowResult
	// scratch holds the results; applyBatch gives it back.
	scratch *rowScratch
	// detached says the results keep no memory of the batch: nothing they
	// hold points into it (detachSparse).
	detached bool
	err      error
}

// readAhead bounds the bytes of batches read but not yet evaluated. The
// source starts reading while prepare loads the state index, so parsing
// overlaps the index load; the bound keeps a wide or huge file from being
// read into memory meanwhile. Batches read ahead are live memory: at 16 MB
// instead of 64 the 1M steady plan's own peak was 215-227 MB instead of
// 274-280 (the 10M one's 1.40 GB instead of 1.49), and in five pairs
// its time was the same (medians 1.29 s).
const readAhead = 16 << 20

// recycleBatches lets detached batches be built into again; tests turn it
// off to make the plans they compare against.
var recycleBatches = true

// readParallel reads the source once and evaluates its batches on every
// core: rules, hashing and state reads are the expensive part, and they
// touch no shared state (evalRow). The source starts at once; evaluation
// starts when prepare has returned. Results are applied by this goroutine
// in input order, so duplicate detection and the plan come out exactly as a
// single-threaded read would make them.
func (e *Engine) readParallel(ctx context.Context, sr *sourceRun, src connectors.Source, active []*targetRun, prepare func() error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	budget := semaphore.NewWeighted(readAhead)
	work := make(chan batchWork, 1024) // the byte budget is the real bound
	readErr := make(chan error, 1)
	go func() {
		seq := 0
		err := src.Read(ctx, func(b arrow.RecordBatch) error {
			n := min(batchBytes(b), readAhead)
			if err := budget.Acquire(ctx, n); err != nil {
				return context.Cause(ctx)
			}
			b.Retain() // the source releases it when we return
			select {
			case work <- batchWork{seq: seq, b: b, bytes: n}:
				seq++
				return nil
			case <-ctx.Done():
				b.Release()
				return context.Cause(ctx)
			}
		})
		close(work)
		readErr <- err
	}()
	err := prepare()
	close(sr.ready)
	if err != nil {
		cancel(err) // the workers below drain what was read
	}
	e.opts.Progress.Begin("read "+sr.s.cfg.Name, sr.expected)
	defer e.opts.Progress.End()
	done := make(chan batchDone, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for range max(1, runtime.GOMAXPROCS(0)) {
		wg.Go(func() {
			ev := sr.s.env.NewEvaluator(e.opts.Now)
			ev.UseTextArena()
			var h rowHasher
			for w := range work {
				budget.Release(w.bytes)
				if ctx.Err() != nil {
					w.b.Release()
					continue
				}
				out := e.evalBatch(ctx, sr, active, ev, &h, w)
				if out.detached && recycleBatches {
					sr.batches.Recycle(w.b)
				}
				ev.ResetText(out.detached && recycleBatches)
				w.b.Release()
				select {
				case done <- out:
				case <-ctx.Done():
				}
			}
		})
	}
	go func() {
		wg.Wait()
		close(done)
	}()
	// Apply in order; a batch that finished early waits for its turn.
	pending := map[int]batchDone{}
	next := 0
	for d := range done {
		pending[d.seq] = d
		for {
			cur, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			if cur.err != nil {
				cancel(cur.err)
				continue
			}
			sr.applyBatch(active, cur)
			e.opts.Progress.Add(len(cur.keys))
			ops := 0
			for _, tr := range active {
				ops += len(tr.out.Ops)
			}
			sr.gc.holding(ops, sr.rows)
			e.store.TrimMapped()
		}
	}
	if err := <-readErr; err != nil && ctx.Err() == nil {
		return err
	}
	return context.Cause(ctx)
}

// batchBytes is the size of a batch's buffers.
func batchBytes(b arrow.RecordBatch) int64 {
	n := 0
	for _, c := range b.Columns() {
		for _, buf := range c.Data().Buffers() {
			if buf != nil {
				n += buf.Len()
			}
		}
	}
	return int64(n)
}

// expectedRows guesses how many rows a read will bring: a full read about
// as many as the last full read held. A first read, or a delta, brings
// what the source guesses from its input (connectors.Estimator), and -1
// when it cannot tell. A broken store is the read's to report.
func (e *Engine) expectedRows(sr *sourceRun, src connectors.Source) int {
	if sr.full {
		if w, ok, err := e.store.Watermark(sr.s.cfg.Name); err == nil && ok && w.FullRecords > 0 {
			return w.FullRecords
		}
	}
	if est, ok := src.(connectors.Estimator); ok {
		return est.EstimateRecords()
	}
	return -1
}

// evalBatch evaluates every row of one batch for every active target.
func (e *Engine) evalBatch(ctx context.Context, sr *sourceRun, active []*targetRun, ev *rules.Evaluator, h *rowHasher, w batchWork) batchDone {
	out := batchDone{seq: w.seq}
	if err := ev.Bind(w.b); err != nil {
		out.err = err
		return out
	}
	cols := len(sr.s.columns)
	h.bind(w.b, cols)
	keys := w.b.Column(sr.s.keyCol).(*array.String)
	pos := w.b.Column(cols).(*array.Int64)
	tombs := w.b.Column(cols + 1).(*array.Boolean)
	n := int(w.b.NumRows())
	out.scratch = sr.scratch.get()
	rows := out.scratch.batch(n, len(active))
	out.keys, out.lines, out.tombs, out.results, out.pos = rows.keys, rows.lines, rows.tombs, rows.results, rows.pos
	detachKeys(keys, out.keys[:n])
	for i := range n {
		out.lines[i], out.tombs[i] = pos.Value(i), tombs.Value(i)
	}
	for _, tr := range active {
		if err := tr.index.load(out.keys); err != nil {
			out.err = err
			return out
		}
	}
	fps := h.fingerprints(active, &out, sr.place(h, &out, rows.hashes))
	details, err := e.readDetails(active, &out, fps)
	if err != nil {
		out.err = err
		return out
	}
	all := rows.all
	for i := range n {
		if i%256 == 0 && ctx.Err() != nil {
			out.err = context.Cause(ctx)
			return out
		}
		out.results[i] = all[i*len(active) : (i+1)*len(active) : (i+1)*len(active)]
		for j, tr := range active {
			var r *rowResult
			var err error
			if out.tombs[i] {
				r, err = tr.tombstone(out.keys[i])
			} else {
				var pre *storedDetails
				if details[j] != nil {
					pre = details[j][i]
				}
				r, err = e.evalRow(sr, tr, ev, out.scratch, i, out.keys[i], out.pos[i], out.lines[i], fps[j][i], pre)
			}
			if err != nil {
				out.err = err
				return out
			}
			out.results[i][j] = r
		}
	}
	out.detached = detachSparse(out.results, &out.scratch.groups)
	return out
}

// place fingerprints each record of a batch into hashes (tombstones have
// none) and finds its key's place in a full read's shared table
// (out.pos).
func (sr *sourceRun) place(h *rowHasher, out *batchDone, hashes []uint64) []uint64 {
	guess := int32(-1)
	for i, key := range out.keys {
		if !out.tombs[i] {
			hashes[i] = h.hash(i)
		}
		// One probe finds every target's entry. A source read in key order
		// has each record's key at or just after the previous one's place.
		at := sr.seen.positionNear(key, guess)
		guess = at.n
		if at.known {
			guess++
		}
		out.pos[i] = at
	}
	return hashes
}

// applyBatch records one batch's results, row by row in input order.
func (sr *sourceRun) applyBatch(active []*targetRun, d batchDone) {
	sr.mu.Lock()
	defer sr.mu.Unlock()
	sr.rows += len(d.keys)
	for i, key := range d.keys {
		if !sr.occurs(key, d.pos[i], d.lines[i]) {
			continue
		}
		for j, tr := range active {
			if r := d.results[i][j]; d.tombs[i] && r != nil {
				tr.add(r.ops, nil)
				continue
			}
			sr.applyRow(tr, key, d.results[i][j])
		}
	}
	sr.scratch.put(d.scratch)
	sr.presizeOps(active)
}

// presizeOps grows each target's op list, once, to what the whole read
// should bring at the rate the records so far brought ops, with a little
// over: doubling a first plan's op lists made as much garbage as the lists
// themselves. Only a plan run with the collector off asks for it (see
// collectorOff): a collection scans the spare capacity, and presized lists
// then cost more page faults than doubling (1M first plan: 630k against
// 575k). Lists that would pass the budget, on a wild estimate, double as
// before.
func (sr *sourceRun) presizeOps(active []*targetRun) {
	if sr.presizeBudget <= 0 || sr.presized || sr.rows == 0 || sr.expected <= sr.rows {
		return
	}
	sr.presized = true
	want := make([]int, len(active))
	var bytes int64
	for i, tr := range active {
		want[i] = len(tr.out.Ops) * sr.expected / sr.rows
		want[i] += want[i] / 32
		bytes += int64(want[i]) * int64(unsafe.Sizeof(plan.Op{}))
	}
	if bytes > sr.presizeBudget {
		return
	}
	for i, tr := range active {
		if want[i] > cap(tr.out.Ops) {
			tr.out.Ops = slices.Grow(tr.out.Ops, want[i]-len(tr.out.Ops))
		}
	}
}
