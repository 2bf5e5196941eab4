package planfmt

import (
	"fmt"
	"io"
	"testing"

	"github.com/idsync/idsync/connectors"
	"github.com/idsync/idsync/pipeline/plan"
)

// BenchmarkJSONL writes a first plan's lines: 100k creates of ten
// attributes, each followed by a membership, as the reference policy's
// directory target plans them; the creates plain, and compact as the
// planner makes them (plan.Compact).
func BenchmarkJSONL(b *testing.B) {
	names := []string{"userName", "displayName", "givenName", "surname", "mail", "department", "title", "country", "manager", "active"}
	for _, compact := range []bool{false, true} {
		t := &plan.Target{Name: "directory", Attrs: names}
		for i := range 100_000 {
			create := connectors.Op{Action: connectors.Create, Key: fmt.Sprintf("E%07d", i), Reason: "new"}
			values := make([]connectors.Value, len(names))
			for j, n := range names {
				values[j] = fmt.Sprintf("%s-%d", n, i)
			}
			op := compactCreate(create, values)
			if !compact {
				op = t.Plain(op, new(plan.PlainBuf))
			}
			t.Ops = append(t.Ops, op)
		}
		for i := range 100_000 {
			t.Ops = append(t.Ops, plan.NewOp(connectors.Op{Action: connectors.AddMember, Object: connectors.Group,
				Key: fmt.Sprintf("E%07d", i), Group: "Engineering", Reason: "new"}, nil))
		}
		p := &plan.Plan{Targets: []*plan.Target{t}}
		b.Run(map[bool]string{false: "plain", true: "compact"}[compact], func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := JSONL(io.Discard, p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
