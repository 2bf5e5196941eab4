package pipeline

import (
	"cmp"
	"fmt"
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
	for range 150 {
		// Few groups are dealt into buckets, many are sorted; keys come
		// in order, in a few runs, or at random.
		groups, order := 1+r.IntN(4), r.IntN(3)
		if r.IntN(3) == 0 {
			groups = 2 * fewGroups
		}
		ops := make([]plan.Op, r.IntN(400))
		for i := range ops {
			var key string
			switch order {
			case 0: // in key order
				key = fmt.Sprintf("k%04d", i/3)
			case 1: // in numeric order: a few ascending runs (k9, k10, ...)
				key = fmt.Sprintf("k%d", i/3)
			default:
				key = fmt.Sprintf("k%02d", r.IntN(20))
			}
			ops[i] = plan.NewOp(connectors.Op{Action: actions[r.IntN(len(actions))], Object: connectors.Kind(r.IntN(2)),
				Key: key, Group: fmt.Sprint("g", r.IntN(groups)), Reason: fmt.Sprint(i)}, nil)
		}
		want := slices.Clone(ops)
		slices.SortStableFunc(want, func(a, b plan.Op) int {
			return cmp.Or(cmp.Compare(rank(a), rank(b)), cmp.Compare(a.Group, b.Group), cmp.Compare(a.Key, b.Key))
		})
		sortOps(ops)
		if diff := gocmp.Diff(want, ops, cmpopts.EquateEmpty(), gocmp.AllowUnexported(plan.Op{})); diff != "" {
			t.Fatalf("sortOps differs from a stable sort (-want +got):\n%s", diff)
		}
	}
}

// BenchmarkSortOps sorts a first plan's shape: a create per user and a
// membership in one of a dozen departments, read in key order, or in
// numeric order across E999999 and E1000000 (two runs of keys, as in the
// bench's 1M population).
func BenchmarkSortOps(b *testing.B) {
	const users = 200_000
	for name, format := range map[string]string{"in-order": "E%07d", "two-runs": "E%d"} {
		ops := make([]plan.Op, 0, 2*users)
		for i := range users {
			key := fmt.Sprintf(format, 900_000+i)
			ops = append(ops, plan.NewOp(connectors.Op{Action: connectors.Create, Key: key}, nil),
				plan.NewOp(connectors.Op{Action: connectors.AddMember, Object: connectors.Group, Key: key, Group: fmt.Sprint("dept", i%12)}, nil))
		}
		read := slices.Clone(ops)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				copy(ops, read) // sortOps sorts in place
				sortOps(ops)
			}
		})
	}
}
