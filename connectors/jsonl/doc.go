// Package jsonl reads newline-delimited JSON snapshots as a source and, as a
// target, appends every applied op to a JSON Lines file for audit or for
// another system to consume.
package jsonl
