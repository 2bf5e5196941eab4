// Package csv is a source that reads a CSV file with a header row as a full
// or delta snapshot, typed by the declared schema.
package csv
