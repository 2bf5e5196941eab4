package plan

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// Write saves p for a later `apply --plan`, as one JSON object of the
// Plan's shape. It streams the ops one at a time: a first plan of a
// million identities is gigabytes of JSON, and encoding it whole held
// all of it in memory, twice over, next to the plan itself.
func Write(w io.Writer, p *Plan) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	head, err := json.Marshal(Plan{Version: p.Version, Now: p.Now, Sources: p.Sources})
	if err != nil {
		return err
	}
	// head ends with `"targets":null}`: the targets and rejects follow.
	if !bytes.HasSuffix(head, []byte(`"targets":null}`)) {
		return fmt.Errorf("write plan: unexpected plan header %.40q", head)
	}
	if p.Targets != nil { // nil stays null, as encoding/json writes it
		head = bytes.TrimSuffix(head, []byte(`null}`))
		if _, err := bw.Write(append(head, '[')); err != nil {
			return err
		}
		for i, t := range p.Targets {
			if i > 0 {
				_ = bw.WriteByte(',')
			}
			if err := writeTarget(bw, t); err != nil {
				return err
			}
		}
		_ = bw.WriteByte(']')
	} else if _, err := bw.Write(bytes.TrimSuffix(head, []byte(`}`))); err != nil {
		return err
	}
	if len(p.Rejects) > 0 {
		rejects, err := json.Marshal(p.Rejects)
		if err != nil {
			return err
		}
		_, _ = bw.WriteString(`,"rejects":`)
		_, _ = bw.Write(rejects)
	}
	_, _ = bw.WriteString("}\n")
	return bw.Flush() // a bufio.Writer keeps its first error: this reports any
}

// writeTarget writes one target, its ops one at a time.
func writeTarget(bw *bufio.Writer, t *Target) error {
	rest := *t
	rest.Ops = nil
	b, err := json.Marshal(&rest)
	if err != nil || t.Ops == nil {
		_, _ = bw.Write(b)
		return err
	}
	// Ops marshal as `"ops":null`; a string field holding that text
	// would have its quotes escaped, so the first match is the field.
	before, after, ok := bytes.Cut(b, []byte(`"ops":null`))
	if !ok {
		return fmt.Errorf("write plan: target %s: no ops field", t.Name)
	}
	_, _ = bw.Write(before)
	_, _ = bw.WriteString(`"ops":[`)
	var buf PlainBuf
	for i := range t.Ops {
		if i > 0 {
			_ = bw.WriteByte(',')
		}
		plain := t.Plain(t.Ops[i], &buf)
		op, err := json.Marshal(&plain)
		if err != nil {
			return err
		}
		_, _ = bw.Write(op)
	}
	_ = bw.WriteByte(']')
	_, err = bw.Write(after)
	return err
}

// Read loads a saved plan.
func Read(r io.Reader) (*Plan, error) {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	var p Plan
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("read plan: %w", err)
	}
	if p.Version != Version {
		return nil, fmt.Errorf("plan format v%d is not supported (this idsync writes v%d)", p.Version, Version)
	}
	return &p, nil // Op.UnmarshalJSON restored the values' types
}
