package pipeline

import (
	"fmt"
	"math"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/idsync/idsync/pipeline/plan"
)

// gcProgress notes Go's GC percent as each stage begins, and as it ends.
type gcProgress struct {
	noProgress
	at, end map[string]uint64
	stage   string
}

func (p *gcProgress) Begin(stage string, _ int) { p.stage, p.at[stage] = stage, gcPercent() }
func (p *gcProgress) End()                      { p.end[p.stage] = gcPercent() }

func gcPercent() uint64 {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestPlanRunsWithItsGCPercent: an unbounded first sync's reading runs at
// PlanGCPercent; applying, everything after the plan, a later plan and a
// bounded first plan at the process's own setting, unless the caller asks
// to keep the plan's.
func TestPlanRunsWithItsGCPercent(t *testing.T) {
	bounded := newFixture(t, map[string]string{"idsync.yaml": smallConfig, "day1.csv": smallDay1})
	before := gcPercent()
	pr := &gcProgress{at: map[string]uint64{}, end: map[string]uint64{}}
	e := bounded.engine(map[string]string{"HR": "day1.csv"})
	e.opts.Progress, e.opts.PlanGCPercent = pr, int(before)+123
	if _, err := e.Plan(t.Context(), PlanOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := pr.at["read hr"]; got != before {
		t.Errorf("GC percent while reading for a bounded first plan: %d, want the process's %d", got, before)
	}

	unbounded := strings.Replace(smallConfig, "    source: hr\n", "    source: hr\n    opsPerRun: 0\n", 1)
	f := newFixture(t, map[string]string{"idsync.yaml": unbounded, "day1.csv": smallDay1})
	pr.at = map[string]uint64{}
	e = f.engine(map[string]string{"HR": "day1.csv"})
	e.opts.Progress, e.opts.PlanGCPercent = pr, int(before)+123
	p, err := e.Plan(t.Context(), PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Apply(t.Context(), p, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, want := pr.at["read hr"], before+123; got != want {
		t.Errorf("GC percent while reading: %d, want %d", got, want)
	}
	if got := pr.at["apply dir"]; got != before {
		t.Errorf("GC percent while applying: %d, want the process's %d", got, before)
	}
	if got := gcPercent(); got != before {
		t.Errorf("GC percent after: %d, want %d", got, before)
	}
	pr.at = map[string]uint64{}
	if _, err := e.Plan(t.Context(), PlanOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := pr.at["read hr"]; got != before {
		t.Errorf("GC percent while reading for a later plan: %d, want the process's %d", got, before)
	}

	// A caller that only prints the plan keeps the first sync's setting.
	defer debug.SetGCPercent(int(before))
	e = newFixture(t, map[string]string{"idsync.yaml": unbounded, "day1.csv": smallDay1}).engine(map[string]string{"HR": "day1.csv"})
	e.opts.PlanGCPercent = int(before) + 123
	if _, err := e.Plan(t.Context(), PlanOptions{KeepGCPercent: true}); err != nil {
		t.Fatal(err)
	}
	if got, want := gcPercent(), before+123; got != want {
		t.Errorf("GC percent after a plan that keeps it: %d, want %d", got, want)
	}
}

// TestSparsePlanRunsWithItsGCPercent: a later plan reads at
// SparsePlanGCPercent while it holds few ops for the records read, at the
// process's own setting once it holds many, and at that setting after.
func TestSparsePlanRunsWithItsGCPercent(t *testing.T) {
	defer func(n int) { sparseMinRows = n }(sparseMinRows)
	f := newFixture(t, map[string]string{"idsync.yaml": smallConfig, "day1.csv": smallDay1,
		"day2.csv": strings.Replace(smallDay1, "Ann", "Anne", 1)})
	e := f.engine(map[string]string{"HR": "day1.csv"})
	p, err := e.Plan(t.Context(), PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Apply(t.Context(), p, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	before := gcPercent()
	// day2 changes one record of three: one op, more than one for every
	// eight records, once the read judges by three records.
	for _, judged := range []bool{true, false} {
		sparseMinRows = 3
		if !judged {
			sparseMinRows = 4
		}
		t.Run(fmt.Sprint("judged=", judged), func(t *testing.T) {
			pr := &gcProgress{at: map[string]uint64{}, end: map[string]uint64{}}
			e := f.engine(map[string]string{"HR": "day2.csv"})
			e.opts.Progress, e.opts.SparsePlanGCPercent = pr, int(before)+77
			p, err := e.Plan(t.Context(), PlanOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if n := len(p.Targets[0].Ops); n != 1 {
				t.Fatalf("the plan holds %d ops, want 1", n)
			}
			if got, want := pr.at["read hr"], before+77; got != want {
				t.Errorf("GC percent as the read began: %d, want %d", got, want)
			}
			want := before + 77
			if judged {
				want = before
			}
			if got := pr.end["read hr"]; got != want {
				t.Errorf("GC percent as the read ended, holding 1 op: %d, want %d", got, want)
			}
			if got := gcPercent(); got != before {
				t.Errorf("GC percent after: %d, want %d", got, before)
			}
		})
	}
}

// memoryProgress notes the collector's setting and memory limit as each
// stage begins.
type memoryProgress struct {
	noProgress
	percent, limit map[string]uint64
}

func (p *memoryProgress) Begin(stage string, _ int) {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}, {Name: "/gc/gomemlimit:bytes"}}
	metrics.Read(s)
	p.percent[stage], p.limit[stage] = s[0].Value.Uint64(), s[1].Value.Uint64()
}

// TestFirstSyncReadsWithTheCollectorOff: with PlanMemoryLimit set, an
// unbounded first sync reads with the collector off under that limit, and
// both come back after; a later plan reads at the process's own setting.
func TestFirstSyncReadsWithTheCollectorOff(t *testing.T) {
	unbounded := strings.Replace(smallConfig, "    source: hr\n", "    source: hr\n    opsPerRun: 0\n", 1)
	f := newFixture(t, map[string]string{"idsync.yaml": unbounded, "day1.csv": smallDay1})
	before, beforeLimit := gcPercent(), debug.SetMemoryLimit(-1)
	pr := &memoryProgress{percent: map[string]uint64{}, limit: map[string]uint64{}}
	e := f.engine(map[string]string{"HR": "day1.csv"})
	const limit = 3 << 30
	e.opts.Progress, e.opts.PlanGCPercent, e.opts.PlanMemoryLimit = pr, int(before)+123, limit
	p, err := e.Plan(t.Context(), PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := pr.percent["read hr"]; got != math.MaxUint64 { // off reads as -1
		t.Errorf("GC percent while reading: %d, want off", got)
	}
	if got := pr.limit["read hr"]; got != limit {
		t.Errorf("memory limit while reading: %d, want %d", got, limit)
	}
	if got, gotLimit := gcPercent(), debug.SetMemoryLimit(-1); got != before || gotLimit != beforeLimit {
		t.Errorf("after the plan: GC percent %d and limit %d, want %d and %d", got, gotLimit, before, beforeLimit)
	}
	if _, err := e.Apply(t.Context(), p, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Plan(t.Context(), PlanOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := pr.percent["read hr"]; got != before {
		t.Errorf("GC percent while reading for a later plan: %d, want the process's %d", got, before)
	}
}

// TestFirstSyncSizesItsOpListsOnce: with the collector off, the op list
// is sized from the first batch for the whole read (the source estimates
// its records), so it does not double later, unless that would pass a
// quarter of the memory limit; the plan is the same either way.
func TestFirstSyncSizesItsOpListsOnce(t *testing.T) {
	restore := batchRows
	t.Cleanup(func() { batchRows = restore })
	batchRows = 500
	unbounded := strings.Replace(smallConfig, "    source: hr\n", "    source: hr\n    opsPerRun: 0\n", 1)
	var csv strings.Builder
	csv.WriteString("id,name,dept,level\n")
	const rows = 3000 // past add's first 1024 ops, so doubling would show
	for i := range rows {
		fmt.Fprintf(&csv, "E%d,N%d,d,%d\n", i, i, 1+i%5)
	}
	plans := map[string]*plan.Plan{}
	for name, limit := range map[string]int64{
		"collector on": 0,
		"off":          4 << 30,
		"off, small":   1 << 20, // a quarter is 256 kB: less than 3,000 ops
	} {
		f := newFixture(t, map[string]string{"idsync.yaml": unbounded, "day1.csv": csv.String()})
		e := f.engine(map[string]string{"HR": "day1.csv"})
		e.opts.PlanMemoryLimit = limit
		p, err := e.Plan(t.Context(), PlanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		plans[name] = p
	}
	ops := plans["off"].Targets[0].Ops
	if len(ops) != rows || cap(ops) > rows+rows/16 {
		t.Errorf("collector off: %d ops in a list of %d, want %d in one sized for about that", len(ops), cap(ops), rows)
	}
	for _, name := range []string{"collector on", "off, small"} {
		if ops := plans[name].Targets[0].Ops; cap(ops) != 4096 {
			t.Errorf("%s: a list of %d for %d ops, want one doubled to 4096", name, cap(ops), len(ops))
		}
		if diff := cmp.Diff(opList(plans[name]), opList(plans["off"])); diff != "" {
			t.Errorf("plans differ (-%s +off):\n%s", name, diff)
		}
	}
}

// TestSparseGCLowersItsPercentForALargeIndex: a sparse plan's percent
// keeps the heap's growth past a large index near sparseHeadroom, never
// below sparseMinPercent nor above its own setting, and the process's
// setting comes back at the end.
func TestSparseGCLowersItsPercentForALargeIndex(t *testing.T) {
	before := gcPercent()
	for _, tc := range []struct {
		index int64
		want  uint64
	}{
		{0, 25},                    // a delta read: no shared index
		{sparseHeadroom, 25},       // a small index: its own setting
		{8 * sparseHeadroom, 12},   // 96 MB past 768 MB is 12.5%
		{100 * sparseHeadroom, 10}, // never below the least
	} {
		g := startSparseGC(25)
		g.indexed(tc.index)
		if got := gcPercent(); got != tc.want {
			t.Errorf("index of %d MB: GC percent %d, want %d", tc.index>>20, got, tc.want)
		}
		g.end()
		if got := gcPercent(); got != before {
			t.Errorf("after: GC percent %d, want the process's %d", got, before)
		}
	}
	g := &sparseGC{} // the process's setting holds: nothing to lower
	g.indexed(100 * sparseHeadroom)
	if got := gcPercent(); got != before {
		t.Errorf("with no sparse setting: GC percent %d, want the process's %d", got, before)
	}
}
