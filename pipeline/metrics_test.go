package pipeline

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/idsync/idsync/snapshots"
)

// TestMetricsAfterAKnownRun: day 2 hires 12 and loses the 3 of day 1, plus
// one unreadable record; the metrics say exactly that.
func TestMetricsAfterAKnownRun(t *testing.T) {
	var day2 strings.Builder
	day2.WriteString("id,name,dept,level\n")
	for i := range 12 {
		fmt.Fprintf(&day2, "N%02d,New %d,d,1\n", i, i)
	}
	day2.WriteString("N99,Bad,d,notanint\n")
	f := newFixture(t, map[string]string{"idsync.yaml": smallConfig, "day1.csv": smallDay1, "day2.csv": day2.String()})
	f.apply(nil, ApplyOptions{})

	reg := prometheus.NewPedanticRegistry()
	e := f.engine(map[string]string{"HR": "day2.csv"})
	e.opts.Metrics = NewMetrics(reg)
	p, err := e.Plan(t.Context(), PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Apply(t.Context(), p, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	want := `
# HELP idsync_apply_ops_total Ops applied, by result: applied, failed or held (by a deletion guard).
# TYPE idsync_apply_ops_total counter
idsync_apply_ops_total{action="create",result="applied",target="dir"} 12
idsync_apply_ops_total{action="disable",result="applied",target="dir"} 3
# HELP idsync_index_reads_total Full reads of a target's state index: read back merged with its source's other targets (merged), or merged anew from the index cache files (cache) or from the store (store).
# TYPE idsync_index_reads_total counter
idsync_index_reads_total{from="merged",target="dir"} 1
# HELP idsync_plan_ops_total Ops planned.
# TYPE idsync_plan_ops_total counter
idsync_plan_ops_total{action="create",target="dir"} 12
idsync_plan_ops_total{action="disable",target="dir"} 3
# HELP idsync_source_records_rejected_total Source records quarantined, by reason.
# TYPE idsync_source_records_rejected_total counter
idsync_source_records_rejected_total{reason="invalid-value",source="hr"} 1
# HELP idsync_target_requests_total Requests to targets, by outcome class (ok, 4xx, 429, 5xx, error); a bulk request counts once per op.
# TYPE idsync_target_requests_total counter
idsync_target_requests_total{code="ok",target="dir"} 15
`
	// Day 1's plan made the index cache files, and its apply's commits
	// were read back into them and merged: day 2's plan reads that.
	if err := testutil.CollectAndCompare(reg, strings.NewReader(want), "idsync_apply_ops_total", "idsync_index_reads_total", "idsync_plan_ops_total",
		"idsync_source_records_rejected_total", "idsync_target_requests_total"); err != nil {
		t.Error(err)
	}
	problems, err := testutil.CollectAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	if got := testutil.ToFloat64(e.opts.Metrics.sourceRecords.WithLabelValues("hr")); got != 13 {
		t.Errorf("records read = %v, want 13 (12 good, 1 quarantined)", got)
	}
}

// TestIndexReadsSayWhereFrom: a state's first full plan reads its index
// from the store and makes the cache files, and its apply merges them
// anew after its commits; the next plan reads that merged index back, one
// that finds only it gone merges the files, and one that finds them gone
// too reads the store again. Each plan is the same.
func TestIndexReadsSayWhereFrom(t *testing.T) {
	f := newFixture(t, map[string]string{"idsync.yaml": smallConfig, "day1.csv": smallDay1})
	f.apply(nil, ApplyOptions{}) // its plan makes the files
	e := f.engine(map[string]string{"HR": "day1.csv"})
	e.opts.Metrics = NewMetrics(prometheus.NewPedanticRegistry())
	var plans [][]string
	reads := func() (got []float64) {
		t.Helper()
		p, err := e.Plan(t.Context(), PlanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		plans = append(plans, everything(p))
		for _, from := range []string{"merged", "cache", "store"} {
			got = append(got, testutil.ToFloat64(e.opts.Metrics.indexReads.WithLabelValues("dir", from)))
		}
		return got
	}
	cache := filepath.Join(f.dir, "state", "index-cache")
	if got := reads(); !slices.Equal(got, []float64{1, 0, 0}) {
		t.Fatalf("after the apply: %v reads merged, from the cache, from the store; want 1, 0, 0", got)
	}
	derived, err := filepath.Glob(filepath.Join(cache, "derived-*"))
	if err != nil || len(derived) != 1 {
		t.Fatalf("derived files %v (%v), want one", derived, err)
	}
	if err := os.Remove(derived[0]); err != nil {
		t.Fatal(err)
	}
	if got := reads(); !slices.Equal(got, []float64{1, 1, 0}) {
		t.Fatalf("with the merged index gone: %v reads merged, from the cache, from the store; want 1, 1, 0", got)
	}
	if err := os.RemoveAll(cache); err != nil {
		t.Fatal(err)
	}
	if got := reads(); !slices.Equal(got, []float64{1, 1, 1}) {
		t.Fatalf("with the files gone: %v reads merged, from the cache, from the store; want 1, 1, 1", got)
	}
	for i, p := range plans[1:] {
		if diff := cmp.Diff(plans[0], p); diff != "" {
			t.Errorf("plan %d differs from the first (-first +it):\n%s", i+2, diff)
		}
	}
}

// TestDetailsReadsSayWhereFrom: a delta plan reads its changed records'
// stored details from the store until a full plan has made the state's
// details files, which it does before it reads, so that its own come
// from them too; the plans are the same either way. They run as idsync
// plan runs them, on a store opened without compactions.
func TestDetailsReadsSayWhereFrom(t *testing.T) {
	cfg := strings.Replace(smallConfig, "    key: id\n", "    read: delta\n    delta: delta.csv\n    key: id\n", 1)
	f := newFixture(t, map[string]string{"idsync.yaml": cfg, "day1.csv": smallDay1,
		"day2.csv":  "id,name,dept,level\nE1,Ann,a,1\nE2,Bob,b,2\nE3,Cy,c,4\n",
		"delta.csv": "id,name,dept,level,_deleted\nE1,Anna,a,1,false\nE3,Cy,c,2,false\n"})
	f.apply(nil, ApplyOptions{}) // a first sync, which makes no files
	f.reopen(snapshots.Options{NoCompactions: true})
	metrics := NewMetrics(prometheus.NewPedanticRegistry())
	reads := func() (cache, store float64) {
		return testutil.ToFloat64(metrics.detailsReads.WithLabelValues("cache")),
			testutil.ToFloat64(metrics.detailsReads.WithLabelValues("store"))
	}
	plan := func(env map[string]string, full bool) []string {
		t.Helper()
		e := f.engine(env)
		e.opts.Metrics = metrics
		p, err := e.Plan(t.Context(), PlanOptions{Full: full})
		if err != nil {
			t.Fatal(err)
		}
		return opList(p)
	}
	delta := []string{"dir update E1 name", "dir update E3 title"}
	if got := plan(nil, false); !cmp.Equal(got, delta) {
		t.Errorf("before the files: %v, want %v", got, delta)
	}
	if cache, store := reads(); cache != 0 || store != 2 {
		t.Fatalf("before any full plan: details of %v records from the cache, %v from the store; want 0 and 2", cache, store)
	}
	if got, want := plan(map[string]string{"HR": "day2.csv"}, true), []string{"dir update E2 name"}; !cmp.Equal(got, want) {
		t.Errorf("the full plan: %v, want %v", got, want)
	}
	if cache, store := reads(); cache != 1 || store != 2 {
		t.Fatalf("after the full plan: details of %v records from the cache, %v from the store; want 1 and 2", cache, store)
	}
	if got := plan(nil, false); !cmp.Equal(got, delta) {
		t.Errorf("from the files: %v, want %v", got, delta)
	}
	if cache, store := reads(); cache != 3 || store != 2 {
		t.Fatalf("after a full plan: details of %v records from the cache, %v from the store; want 3 and 2", cache, store)
	}
}
