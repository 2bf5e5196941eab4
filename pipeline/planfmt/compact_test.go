package planfmt

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/idsync/idsync/connectors"
	"github.com/idsync/idsync/pipeline/plan"
)

// TestCompactCreatesPrintLikePlainOnes prints samplePlan, and the same
// plan with its creates held compact (plan.Compact), in both formats: the
// text must be the same. With a sensitive attribute, whose value both
// must hide, and without, where JSON lines take the compact ops' own way.
func TestCompactCreatesPrintLikePlainOnes(t *testing.T) {
	for _, sensitive := range [][]string{nil, {"active"}} {
		plain, compact := samplePlan(), samplePlan()
		for _, p := range []*plan.Plan{plain, compact} {
			p.Targets[0].Sensitive = sensitive
			// A create with nothing to set prints no changes at all.
			p.Targets[0].Ops = append(p.Targets[0].Ops, plan.NewOp(connectors.Op{Action: connectors.Create, Key: "E4", Reason: "new"}, nil))
		}
		tg := compact.Targets[0]
		tg.Attrs = []string{"name", "mail", "groups", "active"}
		for i, values := range map[int][]connectors.Value{0: {"Ann", nil, []string{"a", "b"}, true}, 3: make([]connectors.Value, 4)} {
			create := tg.Ops[i].Op()
			create.Changes = nil
			tg.Ops[i] = compactCreate(create, values)
		}
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
			if hides := strings.Contains(want.String(), Redacted); hides != (sensitive != nil) {
				t.Fatalf("%s, sensitive %q: the plain plan hides values: %v\n%s", name, sensitive, hides, want.String())
			}
			if diff := cmp.Diff(want.String(), got.String()); diff != "" {
				t.Errorf("%s, sensitive %q: compact creates printed differently (-plain +compact):\n%s", name, sensitive, diff)
			}
		}
	}
}

// compactCreate is plan.Compact of create with values packed.
func compactCreate(create connectors.Op, values []connectors.Value) plan.Op {
	p, ok := new(plan.Packer).Pack(values)
	if !ok {
		panic(fmt.Sprintf("cannot pack %#v", values))
	}
	return plan.Compact(create, p)
}
