// Package rules compiles operators' CEL policies against a source's Arrow
// schema and evaluates them over record batches without building a map per
// row. It knows nothing of connectors or the engine.
package rules
