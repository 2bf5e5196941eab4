package attrjson

import (
	"math/rand/v2"
	"testing"

	"github.com/idsync/idsync/connectors"
)

// TestAppendObjectIsTheMapsEncoding: changes sorted by one reused
// ChangeOrder encode as AppendAttrs encodes the map of their values, over
// runs of ops that list the same attributes and breaks in those runs,
// attributes named twice, and nil values.
func TestAppendObjectIsTheMapsEncoding(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	names := []string{"mail", "cn", "title", "a", "zeta", "Ümlaut"}
	values := []connectors.Value{nil, "x", "", true, int64(-3), 2.5, []string{"g1", "g2"}}
	var order ChangeOrder
	var changes []connectors.Change
	for i := range 5000 {
		if i == 0 || r.IntN(4) == 0 { // a new attribute list; else the last one again
			changes = make([]connectors.Change, r.IntN(len(names)+2))
			for j := range changes {
				changes[j].Attr = names[r.IntN(len(names))]
			}
		}
		for j := range changes {
			changes[j].New = values[r.IntN(len(values))]
		}
		op := connectors.Op{Changes: changes}
		got := AppendObject(nil, order.Sorted(changes), NewOf)
		if want := AppendAttrs(nil, op.Attrs()); string(got) != string(want) {
			t.Fatalf("op %d, changes %v:\ngot  %s\nwant %s", i, changes, got, want)
		}
	}
}
