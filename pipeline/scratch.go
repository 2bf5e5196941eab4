package pipeline

import (
	"sync"

	"github.com/idsync/idsync/connectors"
	"github.com/idsync/idsync/pipeline/plan"
)

// rowScratch is the memory a batch's rows are evaluated into: their
// results, their ops and their desired values. Each of these used to be
// an allocation of its own per row and target, and all of it is garbage
// once applyBatch has copied the ops into the plan: in a 1M first sync,
// 770 MB of the 3.3 GB the plan allocated. The next batch reuses it
// instead, so the heap stops growing by that much between collections.
//
// A nil *rowScratch allocates afresh (explain evaluates one record).
type rowScratch struct {
	results []rowResult
	ops     []connectors.Op
	values  []connectors.Value
	pack    plan.Packer        // compact creates' values, packed
	create  []connectors.Value // one compact create's values, until packed
	rows    rowSlices
	groups  groupNames // memberships' group names, copied out of batches
}

// rowSlices are a batch's per-row slices (batchDone's, and the records'
// fingerprints), reused the same way. A 1M steady plan allocated about
// 100 bytes a row for them, a third of its garbage.
type rowSlices struct {
	keys    []string
	lines   []int64
	tombs   []bool
	pos     []position
	results [][]*rowResult
	all     []*rowResult // results' backing, targets a row
	hashes  []uint64
}

// resized returns s with n zeroed elements, in s's memory when it fits.
func resized[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	s = s[:n]
	clear(s)
	return s
}

// batch sizes the per-row slices for n rows and targets targets. A nil
// scratch allocates them afresh.
func (s *rowScratch) batch(n, targets int) *rowSlices {
	r := &rowSlices{}
	if s != nil {
		r = &s.rows
	}
	r.keys, r.lines, r.tombs, r.pos = resized(r.keys, n), resized(r.lines, n), resized(r.tombs, n), resized(r.pos, n)
	r.results, r.all, r.hashes = resized(r.results, n), resized(r.all, n*targets), resized(r.hashes, n)
	return r
}

// scratchPool hands each batch a rowScratch and takes it back once the
// batch's results are recorded.
type scratchPool struct{ pool sync.Pool }

func (p *scratchPool) get() *rowScratch {
	if s, ok := p.pool.Get().(*rowScratch); ok {
		return s
	}
	return &rowScratch{}
}

// put takes s back. Nothing may still point into it: applyBatch has copied
// each op by value and kept no result. Clearing drops what the last batch
// pointed to (changes, values, strings): the plan may or may not keep
// them, and it must not be the scratch that keeps them alive.
func (p *scratchPool) put(s *rowScratch) {
	clear(s.results)
	clear(s.ops)
	clear(s.values)
	clear(s.create)
	s.results, s.ops, s.values = s.results[:0], s.ops[:0], s.values[:0]
	r := &s.rows
	clear(r.keys)
	clear(r.results)
	clear(r.all)
	p.pool.Put(s)
}

// result returns a zeroed result.
func (s *rowScratch) result() *rowResult {
	if s == nil {
		return &rowResult{}
	}
	if len(s.results) == cap(s.results) {
		// The results given out so far stay where they are, in the full
		// array, which the next batch reuses.
		s.results = make([]rowResult, 0, max(64, 2*cap(s.results)))
	}
	s.results = s.results[:len(s.results)+1]
	r := &s.results[len(s.results)-1]
	*r = rowResult{}
	return r
}

// appendOps runs add with the scratch's op array and returns just the ops
// add appended, capped so that nothing appended later can overwrite them.
func (s *rowScratch) appendOps(add func([]connectors.Op) []connectors.Op) []connectors.Op {
	if s == nil {
		return add(nil)
	}
	start := len(s.ops)
	s.ops = add(s.ops)
	if len(s.ops) == start {
		return nil
	}
	return s.ops[start:len(s.ops):len(s.ops)]
}

// valuesFor returns n values, all nil.
func (s *rowScratch) valuesFor(n int) []connectors.Value {
	if s == nil {
		return make([]connectors.Value, n)
	}
	if len(s.values)+n > cap(s.values) {
		s.values = make([]connectors.Value, 0, max(1024, 2*cap(s.values), n))
	}
	s.values = s.values[:len(s.values)+n]
	v := s.values[len(s.values)-n : len(s.values) : len(s.values)]
	clear(v)
	return v
}

// packer packs compact creates' values; nil for a nil scratch. Its blocks
// are the plan's, not scratch: put keeps it as it is.
func (s *rowScratch) packer() *plan.Packer {
	if s == nil {
		return nil
	}
	return &s.pack
}

// createValues returns n values for one compact create, reused by the
// next: Pack copies them. (From valuesFor, they took a second batch's
// worth of values in each scratch.)
func (s *rowScratch) createValues(n int) []connectors.Value {
	if s == nil {
		return make([]connectors.Value, n)
	}
	s.create = resized(s.create, n)
	return s.create
}
