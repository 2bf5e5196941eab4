package plan

import "github.com/idsync/idsync/connectors"

// Compact returns a create whose attributes are kept as bare values, one
// per name in its target's Attrs (nil where the create sets nothing),
// instead of as Changes.
//
// A first sync's plan is millions of creates. As Changes, each attribute
// took 48 bytes (its name, an old value a create never has, the new
// value); as a value it takes 16. For a 1M-identity first plan that was
// 600 MB less memory to allocate and fault in.
//
// A compact op's Changes are empty: Target.Plain and Target.Expand turn
// it back into a plain one, and Op.Values reads the values as they are.
// Only the planner makes compact ops; whatever reads a plan's changes
// (printing, saving, applying) goes through one of these.
func Compact(op connectors.Op, values []connectors.Value) Op {
	op.Changes = nil
	return Op{Op: op, values: values}
}

// IsCompact reports whether op's attributes are held as bare values.
func (o *Op) IsCompact() bool { return o.values != nil }

// Values returns a compact op's values, one per name in its target's
// Attrs, for a reader that walks them itself; nil for a plain op. They
// are the plan's own: not to be changed.
func (o *Op) Values() []connectors.Value { return o.values }

// Plain returns op with its changes in Changes: op itself, or a compact
// op with its values turned into changes, which are appended to (*buf)[:0]
// so that a caller reading many ops can reuse one buffer.
func (t *Target) Plain(op Op, buf *[]connectors.Change) Op {
	if op.values == nil {
		return op
	}
	changes := (*buf)[:0]
	for i, v := range op.values {
		if v != nil {
			changes = append(changes, connectors.Change{Attr: t.Attrs[i], New: v})
		}
	}
	*buf = changes
	op.Changes, op.values = changes, nil
	return op
}

// Own returns op as Plain does, but with Changes of its own, for a
// caller that keeps them past the next op: apply sends and stores them.
// The plan's op stays compact.
func (t *Target) Own(op Op) Op {
	if op.values == nil {
		return op
	}
	own := make([]connectors.Change, 0, len(op.values))
	return t.Plain(op, &own)
}
