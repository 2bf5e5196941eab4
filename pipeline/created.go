package pipeline

import (
	"slices"
	"strings"

	"github.com/idsync/idsync/pipeline/plan"
	"github.com/idsync/idsync/snapshots"
)

// createdIndex remembers what each create of an apply committed, by the
// create's place in the plan's create rank, so that the user's
// memberships, a rank later, need not read its entry back from the store.
// A first apply's memberships read a million entries that way, each
// through every level of Badger: 8% of its CPU.
//
// The entries stay what the store holds as long as only membership ranks
// run after the creates: a membership commit writes the user's groups, and
// writes its entry only for the key's last op, after which nothing of the
// key reads it. The applier keeps the index from the create rank through
// the membership ranks and drops it at any other (see run).
type createdIndex struct {
	ops     []plan.Op // the create rank: a window on the plan, sorted by key
	entries []createdEntry
}

// createdEntry is an entry without its key (the op's) or attributes; a
// zero ID is a create not committed.
type createdEntry struct {
	id                      string
	disabled, deprovisioned bool
	hash                    uint64
	since                   int64
}

func newCreatedIndex(ops []plan.Op) *createdIndex {
	return &createdIndex{ops: ops, entries: make([]createdEntry, len(ops))}
}

// set records the entry the create at place i committed. The commit
// goroutine calls it; readers run in a later rank, after its commits.
func (c *createdIndex) set(i int, en snapshots.Entry) {
	c.entries[i] = createdEntry{en.ID, en.Disabled, en.Deprovisioned, en.Hash, en.Since}
}

// find returns key's entry, searching from place from on, and the place
// the next search may start at: a membership batch's keys come in
// ascending order, a few places apart, so each search gallops forward from
// the last. ok is false for a key this apply did not create (or did not
// create yet), which the caller reads from the store.
func (c *createdIndex) find(key string, from int) (en snapshots.Entry, next int, ok bool) {
	n := len(c.ops)
	lo, hi, step := from, from, 1
	for hi < n && c.ops[hi].Key < key {
		lo, hi, step = hi+1, hi+step, 2*step
	}
	hi = min(hi+1, n)
	i, found := slices.BinarySearchFunc(c.ops[lo:hi], key, func(op plan.Op, k string) int { return strings.Compare(op.Key, k) })
	i += lo
	if !found || c.entries[i].id == "" {
		return en, i, false
	}
	e := c.entries[i]
	return snapshots.Entry{Key: key, ID: e.id, Disabled: e.disabled, Deprovisioned: e.deprovisioned, Hash: e.hash, Since: e.since}, i, true
}
