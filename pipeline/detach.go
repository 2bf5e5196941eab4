package pipeline

import (
	"strings"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/idsync/idsync/connectors"
)

// detachKeys copies a batch's keys out of it, into out, in one string:
// Arrow strings alias the batch, which is released soon. A copy of each
// key was an allocation per record: the bench's 1M steady plan made about
// 1.22M allocations that way and 0.84M this way (go tool pprof,
// alloc_objects), and took 1.44 s of CPU against 1.47 s (perf stat -r 5).
// A key kept as it is (a duplicate's, a reject's) keeps its batch's keys,
// 30-40 KB, with it; detach copies the ops' own.
func detachKeys(keys *array.String, out []string) {
	offs := keys.ValueOffsets()
	all, base := string(keys.ValueBytes()), offs[0]
	for i := range out {
		out[i] = all[offs[i]-base : offs[i+1]-base]
	}
}

// detachSparse copies out of a batch the strings its rows' results keep,
// when fewer than half of its rows produced work or when that is cheap
// (detachDense), and reports whether it did: whether the results keep
// nothing of the batch, which can then be recycled.
//
// A value read straight from a column aliases the batch's Arrow buffer, so
// one value kept in an op keeps the whole buffer alive: after a 1M steady
// plan, its 33k ops held 81 MB of buffers, most of the file. In a batch
// whose rows mostly produce work (a first sync) the ops keep nearly all of
// the buffer's bytes anyway, and copying them would only add to the peak.
func detachSparse(results [][]*rowResult, groups *groupNames) bool {
	working := 0
	for _, row := range results {
		for _, r := range row {
			if r != nil && len(r.ops) > 0 {
				working++
				break
			}
		}
	}
	if working*2 >= len(results) {
		return detachDense(results, groups)
	}
	for _, row := range results {
		for _, r := range row {
			if r != nil && len(r.ops) > 0 {
				r.detach()
			}
		}
	}
	return true
}

// detach gives a result's strings memory of their own. Ids are copies
// already (indexEntry.stored), old values are decoded from state into
// their own memory, and a compact create's values are packed (a copy). Keys are copied out of the batch too (detachKeys), but
// all of a batch's together: kept as they are, the ops of a steady plan
// (1% changed) kept every batch's keys, 10 MB more at the peak.
func (r *rowResult) detach() {
	for i := range r.ops {
		op := &r.ops[i]
		op.Key, op.Group = strings.Clone(op.Key), strings.Clone(op.Group)
		for j := range op.Changes {
			op.Changes[j].New = cloneValue(op.Changes[j].New)
		}
	}
	for name, v := range r.desired {
		r.desired[name] = cloneValue(v)
	}
	for i := range r.pick.attrs {
		r.pick.attrs[i].candidates = cloneStrings(r.pick.attrs[i].candidates)
	}
}

// detachDense detaches a batch whose rows mostly produced work, when
// all its ops keep of it are group names: its creates are compact (their
// values packed, a copy) and the rest are memberships. That is a first
// sync's batch, unless a target matches or picks unique values. Its ops'
// keys are detachKeys' copy already; the group names, a few distinct ones
// over and over, are shared copies (groupNames). A batch with other
// values to copy keeps them where they are, and is not recycled: copying
// them would only add to the peak, as its ops keep most of its bytes.
func detachDense(results [][]*rowResult, groups *groupNames) bool {
	for _, row := range results {
		for _, r := range row {
			if r == nil {
				continue
			}
			if len(r.desired) > 0 || len(r.pick.attrs) > 0 {
				return false
			}
			for _, op := range r.ops {
				if len(op.Changes) > 0 {
					return false
				}
			}
		}
	}
	for _, row := range results {
		for _, r := range row {
			if r == nil {
				continue
			}
			for i := range r.ops {
				if g := r.ops[i].Group; g != "" {
					r.ops[i].Group = groups.copy(g)
				}
			}
		}
	}
	return true
}

// groupNames hands out copies of group names, one copy of each name: a
// first sync's memberships name a few groups a million times over. It
// holds at most maxGroupNames; names past that are copied each time.
type groupNames map[string]string

const maxGroupNames = 1 << 12

func (g *groupNames) copy(name string) string {
	if s, ok := (*g)[name]; ok {
		return s
	}
	s := strings.Clone(name)
	if *g == nil {
		*g = groupNames{}
	}
	if len(*g) < maxGroupNames {
		(*g)[s] = s
	}
	return s
}

func cloneValue(v connectors.Value) connectors.Value {
	switch v := v.(type) {
	case string:
		return strings.Clone(v)
	case []string:
		return cloneStrings(v)
	}
	return v
}

func cloneStrings(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.Clone(s)
	}
	return out
}
