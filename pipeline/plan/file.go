package plan

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/idsync/idsync/connectors"
)

// Write saves p for a later `apply --plan`.
func Write(w io.Writer, p *Plan) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	return enc.Encode(p)
}

// Read loads a saved plan, restoring exact value types.
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
	for _, t := range p.Targets {
		for i := range t.Ops {
			op := &t.Ops[i]
			op.Desired = connectors.AttrsFromJSON(op.Desired)
			for j := range op.Changes {
				op.Changes[j].Old = connectors.FromJSON(op.Changes[j].Old)
				op.Changes[j].New = connectors.FromJSON(op.Changes[j].New)
			}
		}
	}
	return &p, nil
}
