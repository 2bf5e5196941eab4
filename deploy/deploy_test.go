package deploy

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.yaml.in/yaml/v3"

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

// metricNames finds idsync_* names in an expression, without the
// histogram suffixes Prometheus adds.
func metricNames(expr string) []string {
	var out []string
	for _, n := range regexp.MustCompile(`idsync_[a-z_]+`).FindAllString(expr, -1) {
		for _, suffix := range []string{"_bucket", "_count", "_sum"} {
			n = strings.TrimSuffix(n, suffix)
		}
		out = append(out, n)
	}
	return out
}

func TestAlertRules(t *testing.T) {
	data, err := os.ReadFile("alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Groups []struct {
			Name  string
			Rules []struct {
				Alert       string
				Expr        string
				For         string
				Labels      map[string]string
				Annotations map[string]string
			}
		}
	}
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&file); err != nil {
		t.Fatalf("alerts.yaml: %v", err)
	}
	metrics := exported(t)
	want := []string{"IdsyncNoSuccessfulRun", "IdsyncTargetQuarantined", "IdsyncDeletionGuardTripped", "IdsyncEscrowGrowing", "IdsyncRateLimited"}
	var got []string
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			got = append(got, r.Alert)
			if r.Expr == "" || r.Labels["severity"] == "" || r.Annotations["summary"] == "" {
				t.Errorf("%s: needs expr, a severity label and a summary", r.Alert)
			}
			if strings.Count(r.Expr, "(") != strings.Count(r.Expr, ")") {
				t.Errorf("%s: unbalanced parentheses in %q", r.Alert, r.Expr)
			}
			for _, m := range metricNames(r.Expr) {
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
			for _, m := range metricNames(q.Expr) {
				if !metrics[m] {
					t.Errorf("panel %q uses %s, which idsync does not export", p.Title, m)
				}
			}
		}
	}
}
