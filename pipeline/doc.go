// Package pipeline is idsync's engine: it compiles a config's rules, reads
// each source once, evaluates every target's policy, diffs against the
// last-known state, and applies the resulting plan with the safety guards.
package pipeline
