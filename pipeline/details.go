package pipeline

import (
	"slices"
	"strings"

	"github.com/idsync/idsync/snapshots"
)

// storedDetails is a managed entry's stored attributes and groups, read
// ahead for its batch (readDetails).
type storedDetails struct {
	raw    []byte
	groups []string
}

// readDetails reads ahead, for each target, the stored attributes and
// groups of the batch's records whose fingerprints no longer match: the
// records evalRow will diff against state. details[j][i] is row i's in
// active[j], or nil where evalRow reads them itself.
//
// A target gets them only when they are at least a quarter of the batch:
// then they are most of a stretch of state, and one walk in key order
// (Store.DetailsOf) steps from one to the next for a fraction of a point
// read each. A policy change that re-evaluated 1M users spent 43% of its
// CPU on two point reads a user. A few changed records scattered over
// state are cheaper read one by one. The targets that read ahead do it in
// one walk, since a key's details in every target sit side by side.
func (e *Engine) readDetails(active []*targetRun, d *batchDone, fps [][]uint64) ([][]*storedDetails, error) {
	details := make([][]*storedDetails, len(active))
	var reads []snapshots.DetailsRead
	var ahead []int // reads[t] is active[ahead[t]]'s
	needs := make([][]bool, len(active))
	union := make([]bool, len(d.keys))
	for j, tr := range active {
		needs[j] = make([]bool, len(d.keys))
		var rows []int
		for i, key := range d.keys {
			if tr.needsDetails(key, d.pos[i], fps[j][i]) {
				needs[j][i] = true
				rows = append(rows, i)
			}
		}
		if len(rows)*detailsAheadShare < len(d.keys) {
			continue
		}
		details[j] = make([]*storedDetails, len(d.keys))
		reads = append(reads, snapshots.DetailsRead{Target: tr.t.cfg.Name, Groups: tr.t.policy.Groups})
		ahead = append(ahead, j)
		for _, i := range rows {
			union[i] = true
		}
	}
	if len(reads) == 0 {
		return details, nil
	}
	var rows []int
	for i, in := range union {
		if in {
			rows = append(rows, i)
		}
	}
	slices.SortFunc(rows, func(a, b int) int { return strings.Compare(d.keys[a], d.keys[b]) })
	keys := make([]string, len(rows))
	for n, i := range rows {
		keys[n] = d.keys[i]
	}
	want := func(n, t int) bool { return needs[ahead[t]][rows[n]] }
	err := e.store.DetailsOf(reads, keys, want, func(n, t int, raw []byte, groups []string) error {
		details[ahead[t]][rows[n]] = &storedDetails{raw: raw, groups: groups}
		return nil
	})
	return details, err
}

// detailsAheadShare is the inverse of the share of a batch's records that
// makes readDetails read ahead: 4, a quarter. Tests set 0 (never) and a
// huge value (whenever any record needs them).
var detailsAheadShare = 4

// needsDetails reports whether evalRow will read key's stored details: it
// is managed and its fingerprint, fp (see fingerprints), does not match.
func (tr *targetRun) needsDetails(key string, pos position, fp uint64) bool {
	if fp == 0 || tr.full.Load() {
		return false
	}
	ie, managed, err := tr.index.lookup(key, pos)
	return err == nil && managed && (!sameFingerprint(ie.hash, fp) || tr.t.usesNow)
}
