package pipeline

import "github.com/idsync/idsync/pipeline/plan"

// guard decides whether destructive ops must be held back. read is how many
// distinct keys the source yielded; unkeyed how many records could not even
// be keyed (their objects would look absent).
func guard(t *target, p *plan.Target, read, unkeyed int) *plan.Guard {
	n := p.Destructive()
	if n == 0 {
		return nil
	}
	limits := t.cfg.Safety
	switch {
	case read == 0 && p.Managed > 0:
		// An empty or unreadable full snapshot looks like "everyone left".
		return &plan.Guard{Reason: "empty-source", Count: n}
	case unkeyed > 0:
		// Some records could not be read at all; their objects would be
		// deprovisioned as absent. Hold everything until the input is fixed.
		return &plan.Guard{Reason: "unreadable-records", Count: n, Limit: float64(unkeyed)}
	case n > limits.MaxDeletes:
		return &plan.Guard{Reason: "max-deletes", Count: n, Limit: float64(limits.MaxDeletes)}
	case limits.MaxDeletePercent > 0 && p.Managed > 0 && float64(n)*100/float64(p.Managed) > limits.MaxDeletePercent:
		return &plan.Guard{Reason: "max-delete-percent", Count: n, Limit: limits.MaxDeletePercent}
	}
	return nil
}
