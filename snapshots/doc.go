// Package snapshots keeps idsync's last-known state of every target in
// Badger, under a versioned key layout (keys.go) that Open upgrades in
// place (migrate.go):
//
//   - one entry per managed object: its link to the target id, status and
//     fingerprint;
//   - its attributes and its groups, under keys of their own that put the
//     source key first, so that a record's details in every target sit
//     side by side;
//   - reverse links, group entries, the op journal, escrow, quarantine,
//     watermarks, and per-target serials and counts;
//   - per target, a seal that says whether an apply's fingerprints stored
//     ahead of its memberships are settled (seal.go);
//   - the provisioning log, whose records are stored a call's worth
//     together and compressed, so they go to Badger's value log, written
//     once (history.go), each such value beside a filter of its records'
//     keys that lookups read (logfilter.go).
//
// Details reads one entry's attributes and groups; DetailsOf walks many
// keys' in every target, in key order (details.go). A store opened
// without compactions, as a plan opens it, can drop the pages of its
// tables the process has mapped (TrimMapped, mapped.go), and takes a
// small memtable (memtable.go).
//
// A full scan of a target's entries (ScanIndex) reads them from files
// beside Badger that the store keeps up to date, and trusts only when
// their stamp matches Badger's last commit. Lookup reads single entries
// from the same files, by their block list, for every key no commit has
// touched since they were made, and DetailsOf every key's details, of
// which the files keep a copy too once a full plan made it
// (KeepDetails); Badger has the rest:
//
//   - indexcache.go: what is valid, and who may write;
//   - detailscache.go: the details' copy;
//   - indexmanifest.go: the stamp on disk;
//   - indexrefresh.go: bringing files up to date;
//   - indexfile.go: the format;
//   - indexlookup.go, indexview.go: single entries, and a lookup's hold
//     on the files;
//   - derived.go: what a caller made from some targets' files (a plan's
//     merged index), stamped with their generations and given back only
//     while they are unchanged;
//   - mapfile_unix.go: the memory maps both of those, and the lookups'
//     block lists, are read through.
//
// It depends on Badger (and x/sys, for madvise; S2 from
// klauspost/compress, for the log) and has its own types.
package snapshots
