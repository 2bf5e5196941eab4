package pipeline

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/idsync/idsync/connectors"
	"github.com/idsync/idsync/pipeline/plan"
)

// TestSmallBatchesPlanTheSameOps plans the oracle's 1,000 people, as a
// first sync and then as the next day's changes, in batches of 7 records
// and in one batch. With 7, each batch's scratch memory is handed on and
// reused over a hundred times while other batches wait their turn, so a
// result given out of it too early, or an op of one row written over by
// the next, shows up as a different plan. The one batch is not recycled,
// and recycled batches are overwritten in tests (batch.Recycler), so a
// value left pointing into a batch shows up too.
func TestSmallBatchesPlanTheSameOps(t *testing.T) {
	c, restore := oracleSeeds[0], batchRows
	t.Cleanup(func() { batchRows, recycleBatches = restore, true })
	f := newFixture(t, c.files())
	plans := func(env map[string]string) (small, whole []string) {
		for _, rows := range []int{7, 0} {
			batchRows, recycleBatches = rows, rows != 0
			p, err := f.engine(env).Plan(t.Context(), PlanOptions{Full: true})
			if err != nil {
				t.Fatal(err)
			}
			if rows != 0 {
				small = everything(p)
			} else {
				whole = everything(p)
			}
		}
		return small, whole
	}
	for _, day := range []struct {
		name string
		file string
		want int
	}{{"first sync", "s0.csv", c.n}, {"next day", "s1.csv", 20}} {
		small, whole := plans(map[string]string{"HR": day.file})
		if len(whole) < day.want {
			t.Fatalf("%s: %d ops and refreshes, want at least %d: the case tests nothing", day.name, len(whole), day.want)
		}
		if diff := cmp.Diff(whole, small); diff != "" {
			t.Errorf("%s: one batch (-) and batches of 7 (+) plan differently:\n%s", day.name, diff)
		}
		if day.file == "s0.csv" {
			f.apply(map[string]string{"HR": "s0.csv"}, ApplyOptions{AllowDeletes: true})
		}
	}
}

// everything prints every field of a plan's ops and refreshes, fingerprints
// and full desired states included.
func everything(p *plan.Plan) []string {
	var out []string
	for _, t := range p.Targets {
		for _, op := range t.Ops {
			out = append(out, fmt.Sprintf("%s %+v desired=%v hash=%d values=%+v", t.Name, op.Op(), op.Desired(), op.Hash, op.Values(nil)))
		}
		for _, r := range t.Refresh {
			out = append(out, fmt.Sprintf("%s %+v", t.Name, r))
		}
	}
	return out
}

// TestRowScratchGivesOutFreshMemory fills a scratch as a batch would, takes
// it back, and fills it again: what it gives out must start empty, and
// nothing given out may change as more is given out or after a regrowth.
func TestRowScratchGivesOutFreshMemory(t *testing.T) {
	var pool scratchPool
	s := pool.get()
	var kept [][]connectors.Op
	for round := range 2 {
		for i := range 300 { // past the first capacities, so the arrays regrow
			r := s.result()
			if r.hash != 0 || r.refresh || r.ops != nil || r.desired != nil || r.reject != nil {
				t.Fatalf("round %d, result %d starts as %+v, want zero", round, i, *r)
			}
			r.hash, r.refresh, r.desired = 1, true, connectors.Attrs{"a": "b"}
			vals := s.valuesFor(3)
			if len(vals) != 3 || vals[0] != nil || vals[2] != nil {
				t.Fatalf("round %d, values %d start as %v, want three nils", round, i, vals)
			}
			vals[0], vals[1], vals[2] = "x", "y", "z"
			key := fmt.Sprint(round, "-", i)
			ops := s.appendOps(func(ops []connectors.Op) []connectors.Op {
				return append(ops, connectors.Op{Key: key}, connectors.Op{Key: key, Group: "g"})
			})
			if len(ops) != 2 || cap(ops) != 2 {
				t.Fatalf("appendOps gave len %d cap %d, want 2 and 2", len(ops), cap(ops))
			}
			kept = append(kept, ops)
			if none := s.appendOps(func(ops []connectors.Op) []connectors.Op { return ops }); none != nil {
				t.Fatalf("appendOps of nothing gave %v, want nil", none)
			}
		}
		for i, ops := range kept {
			if want := fmt.Sprint(round, "-", i); ops[0].Key != want || ops[1].Key != want || ops[1].Group != "g" {
				t.Fatalf("round %d: ops %d now read %+v, want key %s", round, i, ops, want)
			}
		}
		kept = kept[:0]
		pool.put(s)
		if len(s.results) != 0 || len(s.ops) != 0 || len(s.values) != 0 {
			t.Fatal("put left the scratch holding what it gave out")
		}
		s = pool.get()
	}
	var none *rowScratch // explain's: everything fresh
	if r := none.result(); r == nil || len(none.valuesFor(2)) != 2 {
		t.Fatal("a nil scratch must allocate")
	}
}

// TestBatchRowsComeZeroedAndKeepNothing: a batch's per-row slices are
// reused from batch to batch. Each batch gets them zeroed, at any size,
// and a scratch taken back keeps no key or result alive.
func TestBatchRowsComeZeroedAndKeepNothing(t *testing.T) {
	var pool scratchPool
	s := pool.get()
	for round, n := range []int{5, 3, 40, 40} {
		rows := s.batch(n, 3)
		if len(rows.keys) != n || len(rows.lines) != n || len(rows.tombs) != n || len(rows.pos) != n ||
			len(rows.results) != n || len(rows.all) != 3*n || len(rows.hashes) != n {
			t.Fatalf("round %d: slices of %d rows: %d keys, %d results, %d all", round, n, len(rows.keys), len(rows.results), len(rows.all))
		}
		for i := range n {
			if rows.keys[i] != "" || rows.lines[i] != 0 || rows.tombs[i] || rows.pos[i] != (position{}) ||
				rows.results[i] != nil || rows.hashes[i] != 0 || rows.all[3*i] != nil {
				t.Fatalf("round %d, row %d does not start zeroed", round, i)
			}
			rows.keys[i], rows.lines[i], rows.tombs[i], rows.hashes[i] = fmt.Sprint("E", i), 7, true, 9
			rows.pos[i] = position{n: int32(i), known: true}
			rows.all[3*i] = &rowResult{hash: 1}
			rows.results[i] = rows.all[3*i : 3*i+3]
		}
		pool.put(s)
		for i := range n {
			if s.rows.keys[i] != "" || s.rows.results[i] != nil || s.rows.all[3*i] != nil {
				t.Fatalf("round %d: a scratch taken back still holds row %d's key or result", round, i)
			}
		}
	}
}
