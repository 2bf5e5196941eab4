package rules

import (
	"math"
	"strings"

	"cel.dev/cel-go/common/cost"
)

// Budgets. A CEL cost unit is one cheap operation or about ten bytes of
// string work; the budget bounds one rule's worst case to roughly a
// megabyte of string processing, about a millisecond.
const (
	// CostBudget is the largest static worst-case cost a rule may have. A
	// rule over it is rejected when it loads. Typical mapping rules over
	// 4 KiB fields estimate at 1-50k.
	CostBudget = 100_000
	// RuntimeCostLimit stops a rule whose cost cannot be bounded
	// statically. Only such rules pay for runtime cost tracking, which makes
	// evaluation 2-3x slower.
	RuntimeCostLimit = CostBudget
)

// estimator tells the cost model how long record strings can be; without it
// every string function on a field would be unbounded.
type estimator struct {
	prefix   string
	maxBytes uint64
}

var _ cost.Estimator = estimator{}

func (e estimator) EstimateSize(n cost.AstNode) *cost.SizeEstimate {
	path := n.Path()
	if len(path) == 1 && strings.HasPrefix(path[0], e.prefix+".") {
		return &cost.SizeEstimate{Min: 0, Max: e.maxBytes}
	}
	return nil
}

// EstimateCallCost charges idsync's linear string functions one unit per
// ten bytes of input, as CEL charges its own string functions.
func (e estimator) EstimateCallCost(_, overload string, _ *cost.AstNode, args []cost.AstNode) *cost.CallEstimate {
	if !linearFuncs[overload] || len(args) != 1 {
		return nil
	}
	size := e.size(args[0])
	// The result is at most twice the input (ß becomes ss).
	return &cost.CallEstimate{CostEstimate: cost.Estimate{Min: 1, Max: 1 + size/10}, ResultSize: &cost.SizeEstimate{Max: 2 * size}}
}

// size is the largest a string argument can be.
func (e estimator) size(n cost.AstNode) uint64 {
	if s := n.ComputedSize(); s != nil {
		return s.Max
	}
	if s := e.EstimateSize(n); s != nil {
		return s.Max
	}
	return e.maxBytes
}

// unbounded reports whether an estimate has no finite ceiling.
func unbounded(est cost.Estimate) bool { return est.Max == math.MaxUint64 }
