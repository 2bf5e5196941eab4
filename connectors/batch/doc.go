// Package batch turns typed records into Arrow record batches of bounded
// size for file-backed sources, validating each field against the declared
// schema so that a bad record is rejected whole and never half-appended.
// A reader that knows when it no longer needs a batch can have the next
// ones built in its buffers (Recycler).
package batch
