// Package pipeline is idsync's engine: it compiles a config's rules, reads
// each source once, evaluates every target's policy, diffs against the
// last-known state, and applies the resulting plan with the safety guards.
//
// Where to look: planner.go and parallel.go read a source and evaluate its
// records; index.go and keytable.go hold the state they compare with,
// which indexblob.go keeps merged for the next plan (and indexkeep.go
// merges anew after an apply),
// details.go reads ahead what changed records are diffed against, and
// detach.go keeps a plan from holding the batches it read; waves.go bounds
// a plan to each target's opsPerRun; finish.go sorts and completes it;
// gc.go sets Go's collector for a plan, and hugeheap.go asks the kernel
// for huge pages for a first sync's heap.
// apply.go runs a plan target by target; the applier (applier.go,
// members.go, send.go) sends one rank of ops at a time, and workers.go
// commits their outcomes beside the requests; created.go keeps what an
// apply's creates committed for the ranks after them; commit.go and
// journal.go are the state writes and crash recovery; seal.go keeps the
// fingerprints a first sync's creates store ahead of their memberships
// from being trusted before those memberships are settled.
package pipeline
