// Package sqlite is a target that keeps users in a real SQLite table, one
// column per attribute, so the result can be inspected with the sqlite3
// shell. It is the embedded default "directory" and uses the pure-Go
// modernc.org/sqlite driver, so idsync needs no cgo.
package sqlite
