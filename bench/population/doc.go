// Package population generates realistic, seeded HR populations and change
// sets (hires, moves, renames, manager changes, terminations, rehires) for
// the quickstart data, tests and benchmarks. Same seed, same people.
package population
