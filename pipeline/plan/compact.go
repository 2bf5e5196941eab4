package plan

import "github.com/idsync/idsync/connectors"

// Compact returns a create whose attributes are kept packed (see Packed),
// one value per name in its target's Attrs (absent where the create sets
// nothing), instead of as Changes.
//
// A first sync's plan is millions of creates. As Changes, each attribute
// took 48 bytes (its name, an old value a create never has, the new
// value); as a bare value 16, plus its string's header and bytes; packed,
// about its text. For a 1M-identity first plan the first step was 600 MB
// less memory to allocate and fault in.
//
// A compact op's Changes are empty: Target.Plain and Target.Own turn
// it back into a plain one, and Op.Values reads the values as they are.
// Only the planner makes compact ops; whatever reads a plan's changes
// (printing, saving, applying) goes through one of these.
func Compact(op connectors.Op, values Packed) Op {
	op.Changes = nil
	o := NewOp(op, nil)
	o.values = values
	return o
}

// IsCompact reports whether op's attributes are held packed.
func (o *Op) IsCompact() bool { return o.values != "" }

// Values reads a compact op's values into dst[:0], one per name in its
// target's Attrs, for a reader that walks them itself; nil for a plain
// op. Strings in them are the plan's own memory, not copies.
func (o *Op) Values(dst []PackedValue) []PackedValue {
	if o.values == "" {
		return nil
	}
	dst = dst[:0]
	o.values.unpack(func(_ int, v PackedValue) { dst = append(dst, v) })
	return dst
}

// PlainBuf is memory Target.Plain reuses from one op to the next.
type PlainBuf struct {
	changes []connectors.Change
	more    opMore
}

// Plain returns op with its changes in Changes: op itself, or a compact
// op with its values turned into changes. Those are kept in buf, so that
// a caller reading many ops can reuse one buffer; they are valid until
// its next use.
func (t *Target) Plain(op Op, buf *PlainBuf) Op {
	if op.values == "" {
		return op
	}
	changes := buf.changes[:0]
	op.values.unpack(func(i int, v PackedValue) {
		if v.IsSet() {
			changes = append(changes, connectors.Change{Attr: t.Attrs[i], New: v.Value()})
		}
	})
	buf.changes = changes
	buf.more = opMore{changes: changes}
	if op.more != nil {
		buf.more = *op.more
		buf.more.changes = changes
	}
	op.more, op.values = &buf.more, ""
	return op
}

// Own returns op as Plain does, but with changes of its own, for a
// caller that keeps them past the next op: apply sends and stores them.
// The plan's op stays compact.
func (t *Target) Own(op Op) Op {
	if op.values == "" {
		return op
	}
	own := &PlainBuf{changes: make([]connectors.Change, 0, len(t.Attrs))}
	return t.Plain(op, own)
}
