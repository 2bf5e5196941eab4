// Package sqlite is a target that keeps users in a real SQLite table, one
// column per attribute, so the result can be inspected with the sqlite3
// shell. It is the embedded default "directory" and uses the pure-Go
// modernc.org/sqlite driver, so idsync needs no cgo.
//
// The database runs in WAL mode with foreign keys on, and is read through
// a memory map (mmap_size): a group's members are checked against users
// spread over the whole table.
package sqlite
