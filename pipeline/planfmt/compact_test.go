package planfmt

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/idsync/idsync/connectors"
	"github.com/idsync/idsync/pipeline/plan"
)

// TestCompactCreatesPrintLikePlainOnes prints samplePlan, and the same
// plan with its create held compact (plan.Compact), in both formats: the
// text must be the same, sensitive values hidden in both.
func TestCompactCreatesPrintLikePlainOnes(t *testing.T) {
	plain, compact := samplePlan(), samplePlan()
	for _, p := range []*plan.Plan{plain, compact} {
		p.Targets[0].Sensitive = []string{"active"}
	}
	tg := compact.Targets[0]
	tg.Attrs = []string{"name", "mail", "groups", "active"}
	create := tg.Ops[0].Op
	create.Changes = nil
	tg.Ops[0] = plan.Compact(create, []connectors.Value{"Ann", nil, []string{"a", "b"}, true})
	for name, format := range map[string]func(*strings.Builder, *plan.Plan) error{
		"text":  func(b *strings.Builder, p *plan.Plan) error { return Text(b, p) },
		"jsonl": func(b *strings.Builder, p *plan.Plan) error { return JSONL(b, p) },
	} {
		var want, got strings.Builder
		if err := format(&want, plain); err != nil {
			t.Fatal(err)
		}
		if err := format(&got, compact); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(want.String(), Redacted) {
			t.Fatalf("%s: the plain plan hides nothing:\n%s", name, want.String())
		}
		if diff := cmp.Diff(want.String(), got.String()); diff != "" {
			t.Errorf("%s: compact create printed differently (-plain +compact):\n%s", name, diff)
		}
	}
}
