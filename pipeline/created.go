package pipeline

import (
	"slices"
	"strings"

	"github.com/idsync/idsync/pipeline/plan"
	"github.com/idsync/idsync/snapshots"
)

// createdIndex remembers what each create of an apply committed, by the
// create's place in the plan's create rank, so that the user's
// memberships, ranks later, need not read its entry back from the store.
// A first apply's memberships read a million entries that way, each
// through every level of Badger: 8% of its CPU.
//
// The entries must stay what the store holds. Between the creates and
// the memberships come only enables and updates (a first sync's
// references, for one): a bulk's commits record what they wrote here,
// and any other commit of a user forgets its entry. A membership commit
// writes the user's groups, and writes its entry only for the key's last
// op, after which nothing of the key reads it. The applier drops the
// index at any other rank (see run).
//
// The ids are apart from the rest, written only by the create rank's
// commits: an id does not change after its create, and the update rank
// resolves references through them (see id) while its own commits
// rewrite the entries.
//
// grouped is apart too, for the membership commits alone (see
// ungrouped): they run under the engine's commit lock while workers read
// entries with find.
type createdIndex struct {
	ops     []plan.Op // the create rank: a window on the plan, sorted by key
	ids     []string  // "" for a create not committed
	entries []createdEntry
	grouped []bool // a membership commit has written the user's groups
	empty   bool   // nothing set: creates that did not go in bulks
}

// createdEntry is an entry without its key (the op's), id or attributes;
// known is false for a create not committed, or one forgotten.
type createdEntry struct {
	known, disabled, deprovisioned bool
	hash                           uint64
	since                          int64
}

func compactEntry(en snapshots.Entry) createdEntry {
	return createdEntry{en.ID != "", en.Disabled, en.Deprovisioned, en.Hash, en.Since}
}

func newCreatedIndex(ops []plan.Op) *createdIndex {
	return &createdIndex{ops: ops, ids: make([]string, len(ops)), entries: make([]createdEntry, len(ops)),
		grouped: make([]bool, len(ops)), empty: true}
}

// set records the entry the create at place i committed. The commit
// goroutine calls it, in the create rank; readers run in later ranks,
// after its commits.
func (c *createdIndex) set(i int, en snapshots.Entry) {
	c.ids[i], c.entries[i] = en.ID, compactEntry(en)
	c.empty = false
}

// id returns the target id the create of key committed, for a reader in a
// later rank; ok is false for a key this apply did not create in a bulk.
func (c *createdIndex) id(key string) (string, bool) {
	i, found := c.place(key, 0)
	if !found || c.ids[i] == "" {
		return "", false
	}
	return c.ids[i], true
}

// place returns where key is in the create rank, searching from place
// from on, or where it would be: keys come in ascending order, a few
// places apart (a membership batch's, a bulk's), so each search gallops
// forward from the last. A key not found from there is not in the index
// for this caller, who reads the store instead.
func (c *createdIndex) place(key string, from int) (int, bool) {
	n := len(c.ops)
	lo, hi, step := from, from, 1
	for hi < n && c.ops[hi].Key < key {
		lo, hi, step = hi+1, hi+step, 2*step
	}
	hi = min(hi+1, n)
	i, found := slices.BinarySearchFunc(c.ops[lo:hi], key, func(op plan.Op, k string) int { return strings.Compare(op.Key, k) })
	return lo + i, found
}

// find returns key's entry, searching from place from on (see place), and
// the place the next search may start at. ok is false for a key this
// apply did not create, or whose entry is not known.
func (c *createdIndex) find(key string, from int) (en snapshots.Entry, next int, ok bool) {
	i, found := c.place(key, from)
	if !found || !c.entries[i].known {
		return en, i, false
	}
	e := c.entries[i]
	return snapshots.Entry{Key: key, ID: c.ids[i], Disabled: e.disabled, Deprovisioned: e.deprovisioned, Hash: e.hash, Since: e.since}, i, true
}

// rewrite records what a later commit of a created key wrote (see place
// for from) and returns the place the next search may start at.
func (c *createdIndex) rewrite(en snapshots.Entry, from int) int {
	i, found := c.place(en.Key, from)
	if found && c.entries[i].known {
		c.entries[i] = compactEntry(en)
	}
	return i
}

// forget drops key's entry: a commit whose entry is not at hand changed it.
func (c *createdIndex) forget(key string) {
	if c.empty {
		return // a target without bulks: no search per op for nothing
	}
	if i, found := c.place(key, 0); found {
		c.entries[i] = createdEntry{}
	}
}

// ungrouped reports whether the store holds no groups for key's user,
// searching from place from on (see place), and returns the place the
// next search may start at. That is so for a user this apply created
// whose entry is known and whose groups no membership commit has written
// since: a create's key had no entry, and a user's groups never outlive
// its entry (a delete removes both). A first apply's membership commits
// then need not read a million users' groups, each a point read through
// every level of the store: 2.6 s of the commit goroutine's 12 s in a 1M
// SQLite apply. commitMembers marks grouped what it commits. The caller
// holds the engine's commit lock.
func (c *createdIndex) ungrouped(key string, from int) (bool, int) {
	i, found := c.place(key, from)
	return found && c.entries[i].known && !c.grouped[i], i
}
