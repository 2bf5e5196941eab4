package pipeline

import (
	"cmp"
	"maps"
	"slices"

	"github.com/idsync/idsync/connectors"
	"github.com/idsync/idsync/pipeline/diff"
	"github.com/idsync/idsync/pipeline/plan"
	"github.com/idsync/idsync/snapshots"
)

// Commits read and then write state; commitMu makes each one atomic with
// respect to the others, which concurrent appliers need (group member
// counts are shared), and costs little: a commit takes microseconds.

// commitUser records an acknowledged user op as the object's last-known
// state. Attributes whose reference was deferred keep their old stored
// value, and the fingerprint is cleared, so the next run tries again.
func (e *Engine) commitUser(target string, op plan.Op, res connectors.Result, deferred []string) error {
	e.commitMu.Lock()
	defer e.commitMu.Unlock()
	changes, err := e.userChange(target, op, res, deferred)
	if err != nil || len(changes) == 0 {
		return err
	}
	return e.store.Commit(target, changes...)
}

// settled is one acknowledged user op to commit with others.
type settled struct {
	op       plan.Op
	res      connectors.Result
	deferred []string
	at       int // the op's place in its rank
}

// commitUsers records many acknowledged user ops of one bulk in one
// transaction, which also removes the bulk's journal batch: a commit per
// op costs more than the op itself on a local target. Deletes are not
// batched (they adjust shared group counts); the caller commits them one
// by one. It returns the entry each op wrote.
func (e *Engine) commitUsers(target string, ops []settled, journaled uint64) ([]snapshots.Entry, error) {
	e.commitMu.Lock()
	defer e.commitMu.Unlock()
	changes := make([]snapshots.Change, 0, len(ops)+1)
	entries := make([]snapshots.Entry, len(ops))
	for i, s := range ops {
		c, err := e.userChange(target, s.op, s.res, s.deferred)
		if err != nil {
			return nil, err
		}
		for j := range c {
			c[j].Journaled = false // their record is the batch's
		}
		if len(c) > 0 {
			entries[i] = c[len(c)-1].Entry
		}
		changes = append(changes, c...)
	}
	if journaled != 0 {
		changes = append(changes, snapshots.Change{Batch: journaled})
	}
	return entries, e.store.Commit(target, changes...)
}

// userChange is the state change an acknowledged user op makes. The
// caller holds commitMu.
func (e *Engine) userChange(target string, op plan.Op, res connectors.Result, deferred []string) ([]snapshots.Change, error) {
	// A create's key has no entry: plans create only for keys without one,
	// and no op of the key comes before its create in an apply. Not asking
	// saves a lookup through every level of the store per create.
	var en snapshots.Entry
	ok, err := false, error(nil)
	if op.Action != connectors.Create {
		if en, ok, err = e.store.Get(target, op.Key); err != nil {
			return nil, err
		}
	}
	attrs, stored, err := decodeState(en.Attrs)
	if err != nil {
		return nil, err
	}
	if op.Action == connectors.Delete {
		if !ok {
			return nil, e.store.JournalDelete(target, op.Key)
		}
		// The target drops a deleted user's memberships with it.
		groups, err := e.store.Groups(target, op.Key)
		if err != nil {
			return nil, err
		}
		changes, err := e.groupCounts(target, groups, -1)
		if err != nil {
			return nil, err
		}
		return append(changes, snapshots.Change{Entry: snapshots.Entry{Key: op.Key}, Delete: true, Journaled: true}), nil
	}
	known := &snapshots.Known{Entry: en, Found: ok}
	version := cmp.Or(res.Version, stored)
	en.Key, en.Hash = op.Key, op.Hash
	if len(deferred) > 0 {
		en.Hash = 0
	}
	now := e.opts.Now.Unix()
	switch op.Action {
	case connectors.Create, connectors.Adopt:
		en.ID = cmp.Or(res.ID, op.ID())
		en.Disabled, en.Deprovisioned, en.Since = op.Disabled, false, now
	case connectors.Enable:
		en.Disabled, en.Deprovisioned, en.Since = false, false, now
	case connectors.Disable:
		en.Disabled, en.Deprovisioned, en.Since = true, diff.Deprovisioning(op.Reason), now
	}
	if op.Action == connectors.Create && len(deferred) == 0 && version == "" {
		en.Attrs = encodeChanges(op.Changes()) // a first sync's common case
		return []snapshots.Change{{Entry: en, Journaled: true, Known: known}}, nil
	}
	// next is this call's own map: attrs was just decoded, and a create's
	// changes become a new map. Only an update's desired set is shared.
	next := attrs
	switch {
	case op.Action == connectors.Create:
		next = op.Attrs()
	case op.Desired() != nil:
		next = maps.Clone(op.Desired())
	}
	if op.Action == connectors.Create || op.Desired() != nil {
		for _, attr := range deferred {
			next[attr] = attrs[attr]
		}
	}
	if version != "" {
		if next == nil {
			next = connectors.Attrs{}
		}
		next[versionAttr] = version
	}
	if en.Attrs, err = encodeAttrs(next); err != nil {
		return nil, err
	}
	return []snapshots.Change{{Entry: en, Journaled: true, Known: known}}, nil
}

// commitGroup records a group create or delete.
func (e *Engine) commitGroup(target string, op plan.Op, res connectors.Result) error {
	e.commitMu.Lock()
	defer e.commitMu.Unlock()
	g := &snapshots.GroupEntry{Name: op.Key, ID: cmp.Or(res.ID, op.ID())}
	return e.store.Commit(target, snapshots.Change{Group: g, Delete: op.Action == connectors.Delete})
}

// commitMembers records one acknowledged membership batch: each member's
// groups and the group's member count change in one transaction. A user's
// groups have a key of their own, so this writes a few bytes a member
// instead of reading and rewriting its attributes; the entry itself is
// written only by the op that carries the record's fingerprint. entries
// are the members' entries as members looked them up before sending, and
// still current: within a rank only a key's last op (the one with the
// fingerprint) writes its entry, and ranks commit one after another.
// created, when not nil, is the apply's created index: the groups of the
// users it knows have none are not read. poisoned, when not nil, says
// which keys had an op fail: their fingerprints are not stored. It is
// asked here, under the commit lock, since a membership of the same user
// in another group may fail while this batch is out (see
// applier.unsettled).
func (e *Engine) commitMembers(target, name string, ops []plan.Op, entries []snapshots.Entry, created *createdIndex, poisoned func(key string) bool) error {
	e.commitMu.Lock()
	defer e.commitMu.Unlock()
	g, _, err := e.store.Group(target, name)
	if err != nil {
		return err
	}
	stored, fresh, err := e.storedGroups(target, ops, created)
	if err != nil {
		return err
	}
	changes := make([]snapshots.Change, 0, len(ops)+1)
	for i, op := range ops {
		groups := stored[i]
		// Counted only when the user's groups change, so a membership
		// committed twice (or removed while absent) keeps the count that
		// deleteEmptyGroups trusts.
		had := slices.Contains(groups, g.Name)
		switch {
		case op.Action == connectors.AddMember && !had:
			groups = append(groups, g.Name)
			g.Members++
		case op.Action == connectors.RemoveMember && had:
			groups = slices.DeleteFunc(groups, func(n string) bool { return n == g.Name })
			g.Members--
		}
		slices.Sort(groups)
		en := entries[i]
		en.Groups = slices.Compact(groups)
		c := snapshots.Change{Entry: en, Parts: snapshots.PartGroups}
		if op.Hash != 0 && (poisoned == nil || !poisoned(op.Key)) {
			c.Known = &snapshots.Known{Entry: entries[i], Found: true}
			c.Entry.Hash, c.Parts = op.Hash, snapshots.PartGroups|snapshots.PartEntry
		}
		changes = append(changes, c)
	}
	if err := e.store.Commit(target, append(changes, snapshots.Change{Group: &g})...); err != nil {
		return err
	}
	for _, i := range fresh {
		created.grouped[i] = true // the next commit of the user reads them
	}
	return nil
}

// storedGroups returns the groups the store holds for each op's user,
// read in one transaction, but for the users created knows have none
// (see createdIndex.ungrouped); fresh is where those are in created. The
// caller holds commitMu.
func (e *Engine) storedGroups(target string, ops []plan.Op, created *createdIndex) (groups [][]string, fresh []int, err error) {
	groups = make([][]string, len(ops))
	keys := make([]string, 0, len(ops))
	at := make([]int, 0, len(ops))
	from := 0
	for i, op := range ops {
		if created != nil {
			var none bool
			if none, from = created.ungrouped(op.Key, from); none {
				fresh = append(fresh, from)
				continue
			}
		}
		keys, at = append(keys, op.Key), append(at, i)
	}
	if len(keys) == 0 {
		return groups, fresh, nil
	}
	read, err := e.store.GroupsOf(target, keys)
	if err != nil {
		return nil, nil, err
	}
	for j, i := range at {
		groups[i] = read[j]
	}
	return groups, fresh, nil
}

// groupCounts adjusts the member counts of the named groups by delta.
func (e *Engine) groupCounts(target string, names []string, delta int64) ([]snapshots.Change, error) {
	var changes []snapshots.Change
	for _, name := range names {
		g, ok, err := e.store.Group(target, name)
		if err != nil {
			return nil, err
		}
		if ok {
			g.Members += delta
			changes = append(changes, snapshots.Change{Group: &g})
		}
	}
	return changes, nil
}
