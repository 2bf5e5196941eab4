package pipeline

import (
	"strings"

	"github.com/idsync/idsync/connectors"
)

// detachSparse copies out of a batch the strings its rows' results keep,
// when fewer than half of its rows produced work.
//
// A value read straight from a column aliases the batch's Arrow buffer, so
// one value kept in an op keeps the whole buffer alive: after a 1M steady
// plan, its 33k ops held 81 MB of buffers, most of the file. In a batch
// whose rows mostly produce work (a first sync) the ops keep nearly all of
// the buffer's bytes anyway, and copying them would only add to the peak.
func detachSparse(results [][]*rowResult) {
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
		return
	}
	for _, row := range results {
		for _, r := range row {
			if r != nil && len(r.ops) > 0 {
				r.detach()
			}
		}
	}
}

// detach gives a result's strings memory of their own. Keys and ids are
// copies already (evalBatch, indexEntry.stored), and old values are
// decoded from state into their own memory.
func (r *rowResult) detach() {
	for i := range r.ops {
		op := &r.ops[i]
		op.Group = strings.Clone(op.Group)
		for j := range op.Changes {
			op.Changes[j].New = cloneValue(op.Changes[j].New)
		}
	}
	for i, v := range r.values {
		r.values[i] = cloneValue(v)
	}
	for name, v := range r.desired {
		r.desired[name] = cloneValue(v)
	}
	for i := range r.pick.attrs {
		r.pick.attrs[i].candidates = cloneStrings(r.pick.attrs[i].candidates)
	}
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
