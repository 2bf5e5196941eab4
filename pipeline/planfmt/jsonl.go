package planfmt

import (
	"encoding/json"
	"io"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/idsync/idsync/connectors"
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
// per core at a time, and written in order.
func JSONL(w io.Writer, p *plan.Plan) error {
	const chunk = 4096
	type piece struct {
		t   *plan.Target
		ops []plan.Op
	}
	var pieces []piece
	for _, t := range p.Targets {
		for i := 0; i < len(t.Ops); i += chunk {
			pieces = append(pieces, piece{t, t.Ops[i:min(i+chunk, len(t.Ops))]})
		}
	}
	bufs := make([][]byte, runtime.GOMAXPROCS(0))
	for start := 0; start < len(pieces); start += len(bufs) {
		round := pieces[start:min(start+len(bufs), len(pieces))]
		var wg sync.WaitGroup
		for i, pc := range round {
			wg.Go(func() {
				var changes []connectors.Change
				b := bufs[i][:0]
				for _, op := range pc.ops {
					op = redact(pc.t, op)
					changes = append(changes[:0], op.Changes...)
					b = appendOp(b, pc.t, op, changes)
				}
				bufs[i] = b
			})
		}
		wg.Wait()
		for i := range round {
			if _, err := w.Write(bufs[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

// appendOp appends op as one jsonOp line. changes is a scratch copy of
// op.Changes that it sorts: encoding/json writes map keys in order.
func appendOp(b []byte, t *plan.Target, op plan.Op, changes []connectors.Change) []byte {
	object, member := op.Object.String(), ""
	if op.Action == connectors.AddMember || op.Action == connectors.RemoveMember {
		object, member = "group", op.Key
	}
	b = append(b, `{"target":`...)
	b = appendString(b, t.Name)
	b = append(b, `,"action":`...)
	b = appendString(b, op.Action.String())
	b = append(b, `,"object":`...)
	b = appendString(b, object)
	b = append(b, `,"key":`...)
	b = appendString(b, op.Key)
	b = appendField(b, "group", op.Group)
	b = appendField(b, "member", member)
	if op.Disabled {
		b = append(b, `,"disabled":true`...)
	}
	b = appendField(b, "id", op.ID)
	changes = sortChanges(changes)
	if len(changes) > 0 {
		b = appendChanges(b, "changes", changes, func(c connectors.Change) connectors.Value { return c.New })
		if op.Action == connectors.Update || op.Action == connectors.Adopt {
			b = appendChanges(b, "before", changes, func(c connectors.Change) connectors.Value { return c.Old })
		}
	}
	b = appendField(b, "reason", op.Reason)
	if t.Guard != nil && op.Action.Destructive() {
		b = append(b, `,"held":true`...)
	}
	return append(b, "}\n"...)
}

// sortChanges orders changes by attribute name and, like a map, keeps only
// the last value of an attribute named twice.
func sortChanges(changes []connectors.Change) []connectors.Change {
	slices.SortStableFunc(changes, func(x, y connectors.Change) int { return strings.Compare(x.Attr, y.Attr) })
	kept := changes[:0]
	for i, c := range changes {
		if i+1 < len(changes) && changes[i+1].Attr == c.Attr {
			continue
		}
		kept = append(kept, c)
	}
	return kept
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
		b = appendString(b, c.Attr)
		b = append(b, ':')
		b = appendValue(b, value(c))
	}
	return append(b, '}')
}

// appendField appends `,"name":"value"`, or nothing for "" (omitempty).
func appendField(b []byte, name, value string) []byte {
	if value == "" {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, `":`...)
	return appendString(b, value)
}

// appendValue appends an attribute value. The common types are written
// directly; anything else goes through encoding/json.
func appendValue(b []byte, v connectors.Value) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...)
	case string:
		return appendString(b, v)
	case bool:
		return strconv.AppendBool(b, v)
	case int64:
		return strconv.AppendInt(b, v, 10)
	case []string:
		if v == nil {
			return append(b, "null"...)
		}
		b = append(b, '[')
		for i, s := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, s)
		}
		return append(b, ']')
	}
	j, err := json.Marshal(v)
	if err != nil {
		// Values are the types listed on connectors.Value; a NaN float
		// is the only one encoding/json refuses.
		return append(b, "null"...)
	}
	return append(b, j...)
}

// appendString appends s quoted as encoding/json quotes it (HTML-safe).
// Plain strings, including valid non-ASCII names, are copied as they are;
// the rare string that needs escaping goes through encoding/json.
func appendString(b []byte, s string) []byte {
	ascii := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return appendQuoted(b, s)
		}
		ascii = ascii && c < utf8.RuneSelf
	}
	if !ascii && (!utf8.ValidString(s) || strings.ContainsAny(s, "\u2028\u2029")) {
		return appendQuoted(b, s)
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func appendQuoted(b []byte, s string) []byte {
	j, _ := json.Marshal(s) // a string always marshals
	return append(b, j...)
}
