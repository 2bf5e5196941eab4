// Package batch turns typed records into Arrow record batches of bounded
// size for file-backed sources, validating each field against the declared
// schema so that a bad record is rejected whole and never half-appended.
package batch
