// Package snapshots keeps idsync's last-known state of every target in
// Badger: one entry per managed object (its link to the target id, status,
// hash and attributes), reverse links, and per-target serials, under a
// versioned key layout. It depends on Badger only and has its own types.
package snapshots
