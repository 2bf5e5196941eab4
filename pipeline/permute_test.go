package pipeline

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/idsync/idsync/connectors"
	"github.com/idsync/idsync/pipeline/plan"
)

// TestPermuteMovesEveryOpWhereFromSays checks permute against a sorted
// copy, on permutations with fixed points, one long cycle and many short
// ones.
func TestPermuteMovesEveryOpWhereFromSays(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{1, 1000, 100_003} {
		shapes := map[string][]int32{"random": make([]int32, n), "one cycle": make([]int32, n), "pairs": make([]int32, n)}
		for i, p := range r.Perm(n) {
			shapes["random"][i] = int32(p)
			shapes["one cycle"][i] = int32((i + 1) % n)
			shapes["pairs"][i] = int32(i ^ 1)
			if i^1 >= n {
				shapes["pairs"][i] = int32(i)
			}
		}
		for name, from := range shapes {
			t.Run(fmt.Sprint(n, " ", name), func(t *testing.T) {
				ops := make([]plan.Op, n)
				for i := range ops {
					ops[i] = hashed(plan.NewOp(connectors.Op{Key: strconv.Itoa(i)}, nil), uint64(i))
				}
				want := make([]plan.Op, n)
				for i, at := range from {
					want[i] = ops[at]
				}
				permute(ops, from)
				for i := range ops {
					if ops[i].Key != want[i].Key || ops[i].Hash != want[i].Hash {
						t.Fatalf("place %d holds op %s, want %s", i, ops[i].Key, want[i].Key)
					}
				}
			})
		}
	}
}

// hashed is op with its fingerprint set.
func hashed(op plan.Op, hash uint64) plan.Op {
	op.Hash = hash
	return op
}
