package pipeline

import (
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
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
	if err := testutil.CollectAndCompare(reg, strings.NewReader(want), "idsync_apply_ops_total", "idsync_plan_ops_total",
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
