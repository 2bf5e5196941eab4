package planfmt

import (
	"encoding/json"
	"io"

	"github.com/idsync/idsync/connectors"
	"github.com/idsync/idsync/pipeline/plan"
)

// jsonOp is the line format of `plan --format jsonl`: stable field names
// that scripts depend on.
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
// guard keeps back.
func JSONL(w io.Writer, p *plan.Plan) error {
	enc := json.NewEncoder(w)
	for _, t := range p.Targets {
		for _, op := range t.Ops {
			op = redact(t, op)
			line := jsonOp{Target: t.Name, Action: op.Action, Object: op.Object.String(), Key: op.Key, ID: op.ID,
				Group: op.Group, Disabled: op.Disabled, Reason: op.Reason, Held: t.Guard != nil && op.Action.Destructive()}
			if op.Action == connectors.AddMember || op.Action == connectors.RemoveMember {
				line.Object, line.Member = "group", op.Key
			}
			for _, c := range op.Changes {
				if line.Changes == nil {
					line.Changes = connectors.Attrs{}
				}
				line.Changes[c.Attr] = c.New
				if op.Action == connectors.Update || op.Action == connectors.Adopt {
					if line.Before == nil {
						line.Before = connectors.Attrs{}
					}
					line.Before[c.Attr] = c.Old
				}
			}
			if err := enc.Encode(line); err != nil {
				return err
			}
		}
	}
	return nil
}
