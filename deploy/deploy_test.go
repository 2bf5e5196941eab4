package deploy

import (
	"encoding/json"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/idsync/idsync/pipeline"
)

// exported lists the metric families idsync registers.
func exported(t *testing.T) map[string]bool {
	t.Helper()
	reg := prometheus.NewRegistry()
	pipeline.NewMetrics(reg)
	// Families appear once they have a child; describing is enough.
	out := map[string]bool{}
	ch := make(chan *prometheus.Desc, 64)
	go func() { reg.Describe(ch); close(ch) }()
	name := regexp.MustCompile(`fqName: "([^"]+)"`)
	for d := range ch {
		if m := name.FindStringSubmatch(d.String()); m != nil {
			out[m[1]] = true
		}
	}
	return out
}

// promql parses expressions as Prometheus does.
var promql = parser.NewParser(parser.Options{})

// metricNames parses expr as PromQL and returns the metric names it
// selects, without the suffixes Prometheus adds to histograms.
func metricNames(t *testing.T, expr string) []string {
	t.Helper()
	e, err := promql.ParseExpr(expr)
	if err != nil {
		t.Errorf("%q: %v", expr, err)
		return nil
	}
	var out []string
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			name := vs.Name
			for _, suffix := range []string{"_bucket", "_count", "_sum"} {
				name = strings.TrimSuffix(name, suffix)
			}
			out = append(out, name)
		}
		return nil
	})
	return out
}

// TestAlertRules loads the rules with Prometheus's own rule-file parser,
// which checks the structure and every expression, then checks that each
// alert names metrics idsync exports and tells people what happened.
func TestAlertRules(t *testing.T) {
	file, errs := rulefmt.ParseFile("alerts.yaml", false, model.UTF8Validation, promql, slog.New(slog.DiscardHandler))
	for _, err := range errs {
		t.Error(err)
	}
	if file == nil {
		t.FailNow()
	}
	metrics := exported(t)
	want := []string{"IdsyncNoSuccessfulRun", "IdsyncTargetQuarantined", "IdsyncDeletionGuardTripped", "IdsyncEscrowGrowing", "IdsyncRateLimited"}
	var got []string
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			got = append(got, r.Alert)
			if r.Labels["severity"] == "" || r.Annotations["summary"] == "" {
				t.Errorf("%s: needs a severity label and a summary", r.Alert)
			}
			names := metricNames(t, r.Expr)
			if len(names) == 0 {
				t.Errorf("%s: selects no metric", r.Alert)
			}
			for _, m := range names {
				if !metrics[m] {
					t.Errorf("%s: uses %s, which idsync does not export", r.Alert, m)
				}
			}
		}
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("alerts = %v, want %v", got, want)
	}
}

func TestDashboard(t *testing.T) {
	data, err := os.ReadFile("grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	metrics := exported(t)
	if len(dash.Panels) < 6 {
		t.Errorf("%d panels; want the ops, latency, requests, escrow, quarantine and freshness panels", len(dash.Panels))
	}
	for _, p := range dash.Panels {
		for _, q := range p.Targets {
			for _, m := range metricNames(t, q.Expr) {
				if !metrics[m] {
					t.Errorf("panel %q uses %s, which idsync does not export", p.Title, m)
				}
			}
		}
	}
}
