// Package rules compiles operators' CEL policies against a source's Arrow
// schema and evaluates them over record batches without building a map per
// row. It knows nothing of connectors or the engine.
//
// Most rules (field copies, string building, comparisons, ternaries, list
// literals) are compiled to Go closures (fast.go); the rest run in cel-go.
// Every rule's worst-case cost is bounded when it loads, or limited as it
// runs when it cannot be (cost.go). An evaluator may keep the strings rules build, and
// the boxes of the values it returns, in memory that the next batch
// reuses (arena.go, boxslab.go): a first plan makes millions of them and
// keeps none.
package rules
