package planfmt

import (
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/idsync/idsync/connectors"
	"github.com/idsync/idsync/connectors/attrjson"
	"github.com/idsync/idsync/pipeline/plan"
)

// jsonOp is the line format of `plan --format jsonl`: stable field names
// that scripts depend on. JSONL writes it by hand (see appendOp), field for
// field as encoding/json would; TestJSONLMatchesEncodingJSON holds the two
// to the same bytes.
type jsonOp struct {
	Target string            `json:"target"`
	Action connectors.Action `json:"action"`
	Object string            `json:"object"`
	Key    string            `json:"key"`
	// Group and Member are set on membership ops (Member is the user's
	// key) and Group on group ops.
	Group    string           `json:"group,omitempty"`
	Member   string           `json:"member,omitempty"`
	Disabled bool             `json:"disabled,omitempty"`
	ID       string           `json:"id,omitempty"`
	Changes  connectors.Attrs `json:"changes,omitempty"`
	Before   connectors.Attrs `json:"before,omitempty"`
	Reason   string           `json:"reason,omitempty"`
	Held     bool             `json:"held,omitempty"`
}

// JSONL writes one JSON object per op. Held marks destructive ops that a
// guard keeps back. A first plan of a million identities is millions of
// lines: reflection-based encoding and one write per line made it a third
// of the plan's time. Lines are appended by hand instead, a chunk of ops
// per core at a time, and written in order while the next round of chunks
// is formatted.
func JSONL(w io.Writer, p *plan.Plan) error {
	const chunk = 4096
	type piece struct {
		t     *plan.Target
		names *nameOrder
		ops   []plan.Op
	}
	var pieces []piece
	for _, t := range p.Targets {
		names := newNameOrder(t.Attrs)
		for i := 0; i < len(t.Ops); i += chunk {
			pieces = append(pieces, piece{t, names, t.Ops[i:min(i+chunk, len(t.Ops))]})
		}
	}
	// Two sets of buffers: a round is formatted into one while the round
	// before is written from the other.
	n := runtime.GOMAXPROCS(0)
	bufs := [2][][]byte{make([][]byte, n), make([][]byte, n)}
	written := make(chan error, 1)
	written <- nil
	for r, start := 0, 0; start < len(pieces); r, start = 1-r, start+n {
		round, out := pieces[start:min(start+n, len(pieces))], bufs[r]
		var wg sync.WaitGroup
		for i, pc := range round {
			wg.Go(func() {
				b := out[i][:0]
				var order changeOrder
				var plain plan.PlainBuf
				var values []plan.PackedValue
				for _, op := range pc.ops {
					if op.IsCompact() && len(pc.t.Sensitive) == 0 {
						values = op.Values(values)
						b = appendCompact(b, pc.t, op, values, pc.names)
						continue
					}
					op = redact(pc.t, pc.t.Plain(op, &plain))
					b = appendOp(b, pc.t, op, order.sorted(op.Changes()))
				}
				out[i] = b
			})
		}
		wg.Wait()
		if err := <-written; err != nil {
			return err
		}
		go func(out [][]byte) { written <- writeAll(w, out) }(out[:len(round)])
	}
	return <-written
}

func writeAll(w io.Writer, bufs [][]byte) error {
	for _, b := range bufs {
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

// appendOp appends op as one jsonOp line. changes are op.Changes as
// changeOrder sorts them: encoding/json writes map keys in order.
func appendOp(b []byte, t *plan.Target, op plan.Op, changes []connectors.Change) []byte {
	b = appendHead(b, t, op)
	if len(changes) > 0 {
		b = appendChanges(b, "changes", changes, func(c connectors.Change) connectors.Value { return c.New })
		if op.Action == connectors.Update || op.Action == connectors.Adopt {
			b = appendChanges(b, "before", changes, func(c connectors.Change) connectors.Value { return c.Old })
		}
	}
	return appendTail(b, t, op)
}

// appendCompact appends a compact create (plan.Compact) as appendOp
// would, walking its values in name order instead of making changes of
// them and sorting those: a first plan is millions of such lines.
// values are op's, as Op.Values reads them.
func appendCompact(b []byte, t *plan.Target, op plan.Op, values []plan.PackedValue, names *nameOrder) []byte {
	b = appendHead(b, t, op)
	n := 0
	for _, at := range names.order {
		if !values[at].IsSet() {
			continue
		}
		if n == 0 {
			b = append(b, `,"changes":{`...)
		} else {
			b = append(b, ',')
		}
		b = append(b, names.quoted[at]...)
		if s, ok := values[at].String(); ok {
			b = attrjson.AppendString(b, s) // without boxing it
		} else {
			b = attrjson.AppendValue(b, values[at].Value())
		}
		n++
	}
	if n > 0 {
		b = append(b, '}')
	}
	return appendTail(b, t, op)
}

// nameOrder is a target's attribute names in the order encoding/json
// writes map keys, each quoted and followed by a colon.
type nameOrder struct {
	order  []int
	quoted [][]byte
}

func newNameOrder(names []string) *nameOrder {
	o := &nameOrder{order: make([]int, len(names)), quoted: make([][]byte, len(names))}
	for i, name := range names {
		o.order[i] = i
		o.quoted[i] = append(attrjson.AppendString(nil, name), ':')
	}
	slices.SortStableFunc(o.order, func(x, y int) int { return strings.Compare(names[x], names[y]) })
	return o
}

// appendHead appends a line's fields up to its changes.
func appendHead(b []byte, t *plan.Target, op plan.Op) []byte {
	object, member := op.Object.String(), ""
	if op.Action == connectors.AddMember || op.Action == connectors.RemoveMember {
		object, member = "group", op.Key
	}
	b = append(b, `{"target":`...)
	b = attrjson.AppendString(b, t.Name)
	b = append(b, `,"action":`...)
	b = attrjson.AppendString(b, op.Action.String())
	b = append(b, `,"object":`...)
	b = attrjson.AppendString(b, object)
	b = append(b, `,"key":`...)
	b = attrjson.AppendString(b, op.Key)
	b = attrjson.AppendField(b, "group", op.Group)
	b = attrjson.AppendField(b, "member", member)
	if op.Disabled {
		b = append(b, `,"disabled":true`...)
	}
	return attrjson.AppendField(b, "id", op.ID())
}

// appendTail appends a line's fields after its changes, and its end.
func appendTail(b []byte, t *plan.Target, op plan.Op) []byte {
	b = attrjson.AppendField(b, "reason", op.Reason)
	if t.Guard != nil && op.Action.Destructive() {
		b = append(b, `,"held":true`...)
	}
	return append(b, "}\n"...)
}

// changeOrder puts changes in attribute-name order and, like a map, keeps
// only the last value of an attribute named twice. A target's ops mostly
// list the same attributes in the same (policy) order, so it keeps the
// last order it worked out and reuses it while the names match: sorting
// each op's changes anew was a twentieth of a first plan's CPU.
type changeOrder struct {
	names []string // the attributes, in the order last sorted
	order []int    // indexes into them: sorted, duplicates dropped
	out   []connectors.Change
}

// sorted returns changes in order, in a buffer reused by the next call.
func (o *changeOrder) sorted(changes []connectors.Change) []connectors.Change {
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

func (o *changeOrder) same(changes []connectors.Change) bool {
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

// appendChanges appends `,"name":{attr:value,...}`.
func appendChanges(b []byte, name string, changes []connectors.Change, value func(connectors.Change) connectors.Value) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, `":{`...)
	for i, c := range changes {
		if i > 0 {
			b = append(b, ',')
		}
		b = attrjson.AppendString(b, c.Attr)
		b = append(b, ':')
		b = attrjson.AppendValue(b, value(c))
	}
	return append(b, '}')
}
