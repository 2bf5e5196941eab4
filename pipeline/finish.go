package pipeline

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/idsync/idsync/connectors"
	"github.com/idsync/idsync/pipeline/diff"
	"github.com/idsync/idsync/pipeline/plan"
)

// finish completes a target's plan once the source is read: it drops ops
// of quarantined keys, deprovisions absent objects (full reads), expires
// grace periods, plans group creates and deletes, orders the ops, marks
// each key's last op with its fingerprint, and applies the guards.
func (e *Engine) finish(sr *sourceRun, tr *targetRun) error {
	for key := range sr.dups {
		tr.failed[key] = true
	}
	if len(tr.failed) > 0 { // a pass over a first plan's millions of ops is 50 ms
		tr.out.Ops = slices.DeleteFunc(tr.out.Ops, func(op plan.Op) bool { return tr.failed[op.Key] })
		tr.out.Refresh = slices.DeleteFunc(tr.out.Refresh, func(r plan.Refresh) bool { return tr.failed[r.Key] })
	}
	e.holdEscrowed(tr)
	if err := e.deprovisionAbsent(sr, tr); err != nil {
		return err
	}
	if tr.t.policy.Groups {
		if err := e.planGroups(tr); err != nil {
			return err
		}
	}
	if err := tr.deferReferences(); err != nil {
		return err
	}
	e.holdEscrowed(tr) // again: absent and grace ops were just added
	sortOps(tr.out.Ops)
	read := sr.seen.len() - len(sr.dups)
	if !sr.full {
		read = -1 // a delta may be empty; the empty-source guard is for full reads
	}
	tr.out.Guard = guard(tr.t, tr.out, read, sr.unkeyed)
	return nil
}

// deprovisionAbsent deprovisions the managed objects a full read did not
// see, and deletes those whose grace period is over. Grace periods come
// from the store's list of deprovisioned objects, so a delta run expires
// them too without scanning every entry.
func (e *Engine) deprovisionAbsent(sr *sourceRun, tr *targetRun) error {
	policy, grace := tr.t.policy, tr.t.cfg.DeleteAfter
	if (!sr.full || tr.out.Managed == 0) && grace <= 0 {
		return nil // a first plan: nothing to deprovision, millions of ops to skip
	}
	planned := make(map[string]bool, len(tr.out.Ops))
	for _, op := range tr.out.Ops {
		planned[op.Key] = true
	}
	if sr.full {
		tr.index.unseen(sr.seen, func(key string, ie indexEntry) {
			if planned[key] || tr.failed[key] {
				return
			}
			if ops := diff.Absent(policy, key, ie.stored(), diff.ReasonAbsent); len(ops) > 0 {
				tr.add(ops, nil)
				planned[key] = true
			}
		})
	}
	if grace <= 0 {
		return nil
	}
	var expired []string
	err := e.store.ScanDeprovisioned(tr.t.cfg.Name, func(key string, since int64) error {
		if !planned[key] && !tr.failed[key] && e.opts.Now.Unix()-since >= int64(grace.Seconds()) {
			expired = append(expired, key)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, key := range expired {
		ie, ok, err := tr.index.get(key)
		if err != nil {
			return err
		}
		if ok {
			tr.add(diff.Expired(key, ie.stored()), nil)
		}
	}
	return nil
}

// holdEscrowed takes out the ops of keys whose escrowed failure is not due
// for a retry yet, listing them instead; keys that are due stay in and are
// noted, so a success clears their escrow.
func (e *Engine) holdEscrowed(tr *targetRun) {
	if len(tr.escrow) == 0 {
		return
	}
	now := e.opts.Now.Unix()
	held := map[string]bool{}
	for _, o := range tr.out.Escrowed {
		held[o.Key] = true
	}
	tr.out.Ops = slices.DeleteFunc(tr.out.Ops, func(op plan.Op) bool {
		es, ok := tr.escrow[op.Key]
		if !ok || op.Object != connectors.User {
			return false
		}
		if !es.Dropped && es.NextRetry <= now {
			if !slices.Contains(tr.out.Retrying, op.Key) {
				tr.out.Retrying = append(tr.out.Retrying, op.Key)
			}
			return false
		}
		if !held[op.Key] {
			held[op.Key] = true
			tr.out.Escrowed = append(tr.out.Escrowed, plan.Escrowed{Key: op.Key, Action: es.Action, Error: es.Error,
				Attempts: es.Attempts, NextRetry: time.Unix(es.NextRetry, 0).UTC(), Dropped: es.Dropped})
		}
		return true
	})
}

// deferReferences leaves out references to identities that have no
// object and get none in this plan (not hired yet, out of scope). Sending
// them would only be deferred at apply time, every run; the record's
// fingerprint is left unset instead, so each run looks again.
func (tr *targetRun) deferReferences() error {
	if !slices.ContainsFunc(tr.t.policy.Attrs, func(a diff.AttrPolicy) bool { return a.Reference }) {
		return nil
	}
	refs := tr.t.reference
	if !slices.ContainsFunc(tr.out.Ops, func(op plan.Op) bool {
		return op.Action == connectors.Update && slices.ContainsFunc(op.Changes, func(c connectors.Change) bool { return refs(c.Attr) })
	}) {
		return nil // no reference changes (a first plan creates, it does not update)
	}
	creating := map[string]bool{}
	for _, op := range tr.out.Ops {
		if op.Object == connectors.User && (op.Action == connectors.Create || op.Action == connectors.Adopt) {
			creating[op.Key] = true
		}
	}
	deferred := map[string]bool{} // keys whose fingerprint must go
	kept := tr.out.Ops[:0]
	for _, op := range tr.out.Ops {
		if op.Action == connectors.Update {
			changes := op.Changes[:0:0]
			for _, c := range op.Changes {
				ref, _ := c.New.(string)
				if !refs(c.Attr) || ref == "" || creating[ref] {
					changes = append(changes, c)
					continue
				}
				if _, managed, err := tr.index.get(ref); err != nil {
					return err
				} else if !managed {
					tr.out.Deferred = append(tr.out.Deferred, fmt.Sprintf("%s.%s → %s: not provisioned", op.Key, c.Attr, ref))
					deferred[op.Key] = true
					continue
				}
				changes = append(changes, c)
			}
			op.Changes = changes
			if len(changes) == 0 {
				continue
			}
		}
		kept = append(kept, op)
	}
	tr.out.Ops = kept
	for i := range tr.out.Ops {
		if deferred[tr.out.Ops[i].Key] && tr.out.Ops[i].Object == connectors.User {
			tr.out.Ops[i].Hash = 0
		}
	}
	return nil
}

// planGroups creates the groups that memberships need and, when the target
// asks for it, deletes groups idsync manages that this plan empties.
func (e *Engine) planGroups(tr *targetRun) error {
	delta := map[string]int64{}
	creating := map[string]bool{}
	var extra []plan.Op
	for _, op := range tr.out.Ops {
		switch {
		case op.Action == connectors.AddMember:
			delta[op.Group]++
			if _, ok := tr.groups[op.Group]; !ok && !creating[op.Group] {
				creating[op.Group] = true
				extra = append(extra, plan.Op{Op: connectors.Op{Action: connectors.Create, Object: connectors.Group,
					Key: op.Group, Group: op.Group, Reason: diff.ReasonNew}})
			}
		case op.Action == connectors.RemoveMember:
			delta[op.Group]--
		case op.Action == connectors.Delete && op.Object == connectors.User:
			// The target drops a deleted user's memberships with it.
			st, err := e.stored(tr.t.cfg.Name, op.Key)
			if err != nil {
				return err
			}
			for _, g := range st.Groups {
				delta[g]--
			}
		}
	}
	if tr.t.cfg.DeleteEmptyGroups {
		for name, d := range delta {
			if g, ok := tr.groups[name]; ok && d < 0 && g.Members+d <= 0 {
				extra = append(extra, plan.Op{Op: connectors.Op{Action: connectors.Delete, Object: connectors.Group,
					Key: name, ID: g.ID, Group: name, Reason: diff.ReasonEmptyGroup}})
			}
		}
	}
	tr.out.Ops = append(tr.out.Ops, extra...)
	return nil
}

// rank orders ops the way they must be applied: groups exist before
// members join them, objects exist before references and memberships point
// at them, and removals come last.
func rank(op plan.Op) int {
	if op.Object == connectors.Group {
		if op.Action == connectors.Create {
			return 0
		}
		return 9 // group deletes, after every membership removal
	}
	switch op.Action {
	case connectors.Adopt:
		return 1
	case connectors.Create:
		return 2
	case connectors.Enable:
		return 3
	case connectors.Update:
		return 4
	case connectors.AddMember:
		return 5
	case connectors.RemoveMember:
		return 6
	case connectors.Disable:
		return 7
	case connectors.Delete:
		return 8
	}
	return maxRank
}

// maxRank is the highest rank: ops of no known kind sort last.
const maxRank = 10

// sortOps orders ops by rank, then membership ops by group so apply can
// batch them, then by key, keeping equal ops in plan order. A first plan
// holds millions of ops of a few hundred bytes each, so it works out where
// each op goes and then moves the ops in place. Ops are first bucketed by
// rank (a stable counting sort). A bucket already in order, as a first
// sync's creates are when the source is in key order, is left as dealt;
// only the others get sort keys, each sorted on its own, which is linear
// when they are in key order within each group. Sort keys for every op
// were 300 MB of a 1M first plan, at its peak.
func sortOps(ops []plan.Op) {
	var start [maxRank + 2]int
	inOrder := [maxRank + 1]bool{}
	last := [maxRank + 1]int{}
	for r := range inOrder {
		inOrder[r], last[r] = true, -1
	}
	for i := range ops {
		r := rank(ops[i])
		start[r+1]++
		if j := last[r]; j >= 0 && inOrder[r] {
			inOrder[r] = cmp.Or(strings.Compare(ops[j].Group, ops[i].Group), strings.Compare(ops[j].Key, ops[i].Key)) <= 0
		}
		last[r] = i
	}
	for r := 1; r < len(start); r++ {
		start[r] += start[r-1]
	}
	// from[j] is the op that goes to place j.
	from := make([]int32, len(ops))
	next := start
	for i := range ops {
		r := rank(ops[i])
		from[next[r]] = int32(i)
		next[r]++
	}
	most := 0 // the largest bucket to sort: its keys and scratch are reused
	for r := range inOrder {
		if !inOrder[r] {
			most = max(most, start[r+1]-start[r])
		}
	}
	keys, spare := make([]sortKey, 0, most), make([]sortKey, 0, most)
	for r := 0; r <= maxRank; r++ {
		if inOrder[r] {
			continue
		}
		bucket := from[start[r]:start[r+1]]
		groups := groupOrder(ops, bucket)
		keys = keys[:0]
		for _, at := range bucket {
			keys = append(keys, sortKey{ops[at].Key, at, groups.number[ops[at].Group]})
		}
		sortRank(keys, spare, groups.count)
		for k, key := range keys {
			bucket[k] = key.at
		}
	}
	permute(ops, from)
}

// groups numbers the groups one rank's ops name in the order of their
// names, so that sort keys compare a number rather than a string, and
// counts the ops of each.
type groups struct {
	number map[string]int32
	count  []int
}

func groupOrder(ops []plan.Op, bucket []int32) groups {
	seen := map[string]int{}
	for _, at := range bucket {
		seen[ops[at].Group]++
	}
	g := groups{number: make(map[string]int32, len(seen)), count: make([]int, 0, len(seen))}
	for _, name := range slices.Sorted(maps.Keys(seen)) {
		g.number[name] = int32(len(g.count))
		g.count = append(g.count, seen[name])
	}
	return g
}

// permute moves ops in place so that position i holds the op that was at
// from[i], following each cycle of the permutation with one spare op. A
// first plan's ops take gigabytes, so a sorted copy would cost their size
// again in memory and page faults. It uses up from.
func permute(ops []plan.Op, from []int32) {
	for i := range from {
		if from[i] < 0 || int(from[i]) == i {
			continue
		}
		spare := ops[i]
		j := i
		for int(from[j]) != i {
			at := int(from[j])
			ops[j] = ops[at]
			from[j] = -1
			j = at
		}
		ops[j] = spare
		from[j] = -1
	}
}

// sortKey is one op's place in the sort: 24 bytes, since a first plan
// sorts a million at a time (at 40, with the group's name, they were
// 200 MB of a 1M first plan's allocations).
type sortKey struct {
	key   string
	at    int32 // the op's place in the plan
	group int32 // its group's number (see groupOrder)
}

func compareKeys(a, b sortKey) int {
	return cmp.Or(strings.Compare(a.key, b.key), cmp.Compare(a.at, b.at))
}

// fewGroups is how many distinct groups one rank may have for sortRank
// to bucket them rather than sort them.
const fewGroups = 64

// sortRank sorts one rank's keys by group, key and input position; count
// holds how many keys each group number has. Ops name few groups (users
// none, memberships a handful of departments), so the keys are first
// dealt into one bucket per group, keeping input order, and each bucket is
// then sorted on its own. spare is scratch space.
func sortRank(keys, spare []sortKey, count []int) {
	if len(count) > fewGroups {
		slices.SortFunc(keys, func(a, b sortKey) int {
			return cmp.Or(cmp.Compare(a.group, b.group), compareKeys(a, b))
		})
		return
	}
	if len(count) > 1 {
		at := make([]int, len(count))
		for g := 1; g < len(count); g++ {
			at[g] = at[g-1] + count[g-1]
		}
		spare = spare[:len(keys)]
		for _, k := range keys {
			spare[at[k.group]] = k
			at[k.group]++
		}
		copy(keys, spare)
	}
	n := 0
	for _, c := range count {
		sortBucket(keys[n:n+c], spare)
		n += c
	}
}

// fewRuns is how many ascending runs sortBucket merges rather than sorts.
const fewRuns = 8

// sortBucket sorts one group's keys by key and input position. Keys read
// in order are one ascending run, left as they are; a source in numeric
// order has a few (E999999 sorts after E1000000), which are merged in
// linear time; anything else is sorted.
func sortBucket(b, spare []sortKey) {
	starts := []int{0}
	for i := 1; i < len(b); i++ {
		if compareKeys(b[i-1], b[i]) > 0 {
			if len(starts) == fewRuns {
				slices.SortFunc(b, compareKeys)
				return
			}
			starts = append(starts, i)
		}
	}
	// Merge each run into the sorted prefix before it.
	for r := 1; r < len(starts); r++ {
		mid, hi := starts[r], len(b)
		if r+1 < len(starts) {
			hi = starts[r+1]
		}
		out, x, y := spare[:0], b[:mid], b[mid:hi]
		for len(x) > 0 && len(y) > 0 {
			if compareKeys(y[0], x[0]) < 0 {
				out, y = append(out, y[0]), y[1:]
			} else {
				out, x = append(out, x[0]), x[1:]
			}
		}
		out = append(append(out, x...), y...)
		copy(b, out)
	}
}
