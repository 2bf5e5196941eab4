package planfmt

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/idsync/idsync/connectors"
	"github.com/idsync/idsync/pipeline/plan"
)

func samplePlan() *plan.Plan {
	return &plan.Plan{Targets: []*plan.Target{{
		Name: "dir", Managed: 10,
		Ops: []plan.Op{
			plan.NewOp(connectors.Op{Action: connectors.Create, Key: "E1", Reason: "new",
				Changes: []connectors.Change{{Attr: "name", New: "Ann"}, {Attr: "groups", New: []string{"a", "b"}}, {Attr: "active", New: true}}}, nil),
			plan.NewOp(connectors.Op{Action: connectors.Update, Key: "E2", ID: "2", Reason: "changed",
				Changes: []connectors.Change{{Attr: "dept", Old: "Sales", New: "Legal"}, {Attr: "phone", Old: "555", New: nil}}}, nil),
			plan.NewOp(connectors.Op{Action: connectors.Disable, Key: "E3", ID: "3", Reason: "left-scope"}, nil),
		},
		Guard: &plan.Guard{Reason: "max-deletes", Count: 1, Limit: 0},
	}}}
}

func TestText(t *testing.T) {
	var b strings.Builder
	if err := Text(&b, samplePlan()); err != nil {
		t.Fatal(err)
	}
	want := `+ create        dir/E1 name="Ann" groups=["a", "b"] active=true (new)
~ update        dir/E2 id=2 dept: "Sales" → "Legal" phone: "555" → null (changed)
! disable       dir/E3 id=3 (left-scope)
dir: 1 create, 1 update, 1 disable (10 managed)
! deletion guard: dir would disable or delete 1 object(s), but that exceeds maxDeletes (0); these ops are held back (rerun apply with --allow-deletes to apply them)
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("text plan (-want +got):\n%s", diff)
	}
}

func TestJSONL(t *testing.T) {
	var b strings.Builder
	if err := JSONL(&b, samplePlan()); err != nil {
		t.Fatal(err)
	}
	want := `{"target":"dir","action":"create","object":"user","key":"E1","changes":{"active":true,"groups":["a","b"],"name":"Ann"},"reason":"new"}
{"target":"dir","action":"update","object":"user","key":"E2","id":"2","changes":{"dept":"Legal","phone":null},"before":{"dept":"Sales","phone":"555"},"reason":"changed"}
{"target":"dir","action":"disable","object":"user","key":"E3","id":"3","reason":"left-scope","held":true}
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("jsonl plan (-want +got):\n%s", diff)
	}
}

func TestNoChanges(t *testing.T) {
	if got := Summary(&plan.Target{Name: "dir", Managed: 3}); got != "dir: no changes (3 managed)" {
		t.Errorf("summary = %q", got)
	}
}
