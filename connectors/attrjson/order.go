package attrjson

import (
	"slices"
	"strings"

	"github.com/idsync/idsync/connectors"
)

// ChangeOrder puts changes in attribute-name order and, like a map, keeps
// only the last value of an attribute named twice: the order encoding/json
// writes a map in. A target's ops mostly list the same attributes in the
// same (policy) order, so it keeps the last order it worked out and reuses
// it while the names match: sorting each op's changes anew was a twentieth
// of a first plan's CPU. The zero value is ready to use; it is not safe for
// concurrent use.
type ChangeOrder struct {
	names []string // the attributes, in the order last sorted
	order []int    // indexes into them: sorted, duplicates dropped
	out   []connectors.Change
}

// Sorted returns changes in order, in a buffer reused by the next call.
func (o *ChangeOrder) Sorted(changes []connectors.Change) []connectors.Change {
	if !o.same(changes) {
		o.names = o.names[:0]
		o.order = o.order[:0]
		for i, c := range changes {
			o.names = append(o.names, c.Attr)
			o.order = append(o.order, i)
		}
		slices.SortStableFunc(o.order, func(x, y int) int { return strings.Compare(o.names[x], o.names[y]) })
		kept := o.order[:0]
		for i, at := range o.order {
			if i+1 < len(o.order) && o.names[o.order[i+1]] == o.names[at] {
				continue
			}
			kept = append(kept, at)
		}
		o.order = kept
	}
	o.out = o.out[:0]
	for _, at := range o.order {
		o.out = append(o.out, changes[at])
	}
	return o.out
}

func (o *ChangeOrder) same(changes []connectors.Change) bool {
	if len(changes) != len(o.names) {
		return false
	}
	for i, c := range changes {
		if c.Attr != o.names[i] {
			return false
		}
	}
	return true
}

// AppendObject appends changes, as ChangeOrder sorts them, as one JSON
// object of each attribute's value: what AppendAttrs writes for the map of
// those values, without building the map.
func AppendObject(b []byte, changes []connectors.Change, value func(connectors.Change) connectors.Value) []byte {
	b = append(b, '{')
	for i, c := range changes {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendString(b, c.Attr)
		b = append(b, ':')
		b = AppendValue(b, value(c))
	}
	return append(b, '}')
}

// NewOf and OldOf pick a change's value for AppendObject.
func NewOf(c connectors.Change) connectors.Value { return c.New }

// OldOf: see NewOf.
func OldOf(c connectors.Change) connectors.Value { return c.Old }
