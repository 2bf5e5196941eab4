package pipeline

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/idsync/idsync/connectors"
	"github.com/idsync/idsync/pipeline/plan"
)

// TestSortOpsIsAStableSortByRankGroupKey checks sortOps against the
// obvious stable sort on random ops, including equal ones (told apart by
// Reason, which the sort must not reorder).
func TestSortOpsIsAStableSortByRankGroupKey(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	actions := []connectors.Action{connectors.Create, connectors.Adopt, connectors.Update, connectors.Disable,
		connectors.Enable, connectors.Delete, connectors.AddMember, connectors.RemoveMember}
	for range 200 {
		ops := make([]plan.Op, r.IntN(60))
		for i := range ops {
			ops[i] = plan.Op{Op: connectors.Op{Action: actions[r.IntN(len(actions))], Object: connectors.Kind(r.IntN(2)),
				Key: string(rune('a' + r.IntN(4))), Group: string(rune('g' + r.IntN(3))), Reason: string(rune('0' + i))}}
		}
		want := slices.Clone(ops)
		slices.SortStableFunc(want, func(a, b plan.Op) int {
			return cmp.Or(cmp.Compare(rank(a), rank(b)), cmp.Compare(a.Group, b.Group), cmp.Compare(a.Key, b.Key))
		})
		if diff := gocmp.Diff(want, sortOps(ops), cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("sortOps differs from a stable sort (-want +got):\n%s", diff)
		}
	}
}
