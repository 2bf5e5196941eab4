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
// directory target plans them.
func BenchmarkJSONL(b *testing.B) {
	names := []string{"userName", "displayName", "givenName", "surname", "mail", "department", "title", "country", "manager", "active"}
	t := &plan.Target{Name: "directory"}
	for i := range 100_000 {
		key := fmt.Sprintf("E%07d", i)
		changes := make([]connectors.Change, len(names))
		for j, n := range names {
			changes[j] = connectors.Change{Attr: n, New: fmt.Sprintf("%s-%d", n, i)}
		}
		t.Ops = append(t.Ops, plan.Op{Op: connectors.Op{Action: connectors.Create, Key: key, Changes: changes, Reason: "new"}})
	}
	for i := range 100_000 {
		t.Ops = append(t.Ops, plan.Op{Op: connectors.Op{Action: connectors.AddMember, Object: connectors.Group,
			Key: fmt.Sprintf("E%07d", i), Group: "Engineering", Reason: "new"}})
	}
	p := &plan.Plan{Targets: []*plan.Target{t}}
	b.ReportAllocs()
	for b.Loop() {
		if err := JSONL(io.Discard, p); err != nil {
			b.Fatal(err)
		}
	}
}
