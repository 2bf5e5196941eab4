package main

import "os"

// planGCPercent is the GC percent an unbounded first sync's plan runs with (see
// pipeline.Options.PlanGCPercent): 400. 200 made a 1M-identity first plan
// 1.45x faster than 100 at the same peak memory; once the plan stopped
// making per-row garbage, 400 made it 1.13x faster again (and 500k and 2M
// identities 1.06x and 1.12x), with peaks 6% higher to 5% lower. A GOGC
// in the environment is the user's choice, and then holds throughout.
func planGCPercent() int {
	return unlessGOGC(400)
}

// sparsePlanGCPercent is the GC percent any other plan reads with while it
// holds few ops (see pipeline.Options.SparsePlanGCPercent): 25, which
// took a 1M steady plan's own memory from 435 to 273 MB.
func sparsePlanGCPercent() int {
	return unlessGOGC(25)
}

func unlessGOGC(percent int) int {
	if _, set := os.LookupEnv("GOGC"); set {
		return 0
	}
	return percent
}
