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

// planMemoryLimit is the heap an unbounded first sync's plan may reach
// with Go's collector off (see pipeline.Options.PlanMemoryLimit): half
// the memory this process may use, leaving the rest to the page cache,
// Badger and the machine's other work. Zero, which keeps planGCPercent,
// when the memory is unknown, or when GOGC or GOMEMLIMIT in the
// environment say how the user wants memory managed.
func planMemoryLimit() int64 {
	for _, name := range []string{"GOGC", "GOMEMLIMIT"} {
		if _, set := os.LookupEnv(name); set {
			return 0
		}
	}
	return usableMemory("/proc", "/sys/fs/cgroup") / 2
}

// sparsePlanGCPercent is the GC percent any other plan reads with while it
// holds few ops (see pipeline.Options.SparsePlanGCPercent): 50. 25 took a
// 1M steady plan's own memory from 435 to 273 MB (against 100). Once the
// plan read its state from files, 50 made it faster again: in 18
// alternating runs against 25 on the bench's 1M files, medians 0.99 and
// 1.07 s with 1% of the records changed, at a peak of 221-224 MB
// against 204-208 MB; 75 peaked at 257 MB and its page faults made it
// slower. A 10M plan's large index lowers the percent anyway (see
// pipeline's sparseHeadroom).
func sparsePlanGCPercent() int {
	return unlessGOGC(50)
}

func unlessGOGC(percent int) int {
	if _, set := os.LookupEnv("GOGC"); set {
		return 0
	}
	return percent
}
