package plan

import (
	"bytes"
	"encoding/json"

	"github.com/idsync/idsync/connectors"
)

// Op is one planned op with what apply needs to record afterwards.
//
// A first sync's plan is millions of ops, nearly all creates and
// memberships, and its op lists were the largest thing it allocated. So an
// op keeps inline only what those use: action, key, group, reason, hash
// and a create's packed values. The rest (the target's id, the changes,
// the version, members and the desired set) sits behind one pointer, nil
// for a compact create or a membership. As a connectors.Op with the rest
// beside it, an op took 168 bytes; this way it takes 88, and a 1M first
// plan's 3.3M ops take 294 MB instead of 561 MB.
type Op struct {
	Action   connectors.Action
	Object   connectors.Kind
	Disabled bool
	Key      string
	Group    string
	Reason   string
	// Hash is the record-and-policy fingerprint to store once this op
	// succeeds. Zero on every op but the last of its key, so a key whose
	// ops were cut short is evaluated again next run.
	Hash uint64
	// values are a compact create's attribute values, in place of its
	// changes: see Compact.
	values Packed
	more   *opMore
}

// opMore is the part of an op that creates and memberships leave empty.
type opMore struct {
	id, version string
	changes     []connectors.Change
	members     []string
	// desired is the complete attribute set the object has after an adopt
	// or update; apply stores it as the last-known state. A create's
	// changes are its complete set, so creates leave it nil.
	desired connectors.Attrs
}

// NewOp is c as a planned op, with desired as its complete desired set
// (nil but for adopts and updates).
func NewOp(c connectors.Op, desired connectors.Attrs) Op {
	o := Op{Action: c.Action, Object: c.Object, Disabled: c.Disabled, Key: c.Key, Group: c.Group, Reason: c.Reason}
	if c.ID != "" || c.Version != "" || c.Changes != nil || c.Members != nil || desired != nil {
		o.more = &opMore{id: c.ID, version: c.Version, changes: c.Changes, members: c.Members, desired: desired}
	}
	return o
}

// Op is the op as connectors take it.
func (o Op) Op() connectors.Op {
	c := connectors.Op{Action: o.Action, Object: o.Object, Disabled: o.Disabled, Key: o.Key, Group: o.Group, Reason: o.Reason}
	if m := o.more; m != nil {
		c.ID, c.Version, c.Changes, c.Members = m.id, m.version, m.changes, m.members
	}
	return c
}

// ID is the target's own id for the object; empty for a create.
func (o Op) ID() string {
	if o.more == nil {
		return ""
	}
	return o.more.id
}

// Version is the object's version as idsync last saw it; empty if unknown.
func (o Op) Version() string {
	if o.more == nil {
		return ""
	}
	return o.more.version
}

// Changes are the attributes the op writes; empty for a compact create
// (see Target.Plain).
func (o Op) Changes() []connectors.Change {
	if o.more == nil {
		return nil
	}
	return o.more.changes
}

// Desired is the complete attribute set after an adopt or update; nil
// for every other op.
func (o Op) Desired() connectors.Attrs {
	if o.more == nil {
		return nil
	}
	return o.more.desired
}

// SetDesired sets the op's complete desired set.
func (o *Op) SetDesired(desired connectors.Attrs) {
	if o.more == nil {
		if desired == nil {
			return
		}
		o.more = &opMore{}
	}
	o.more.desired = desired
}

// Attrs returns the op's changes as a map of new values.
func (o Op) Attrs() connectors.Attrs { return o.Op().Attrs() }

// wireOp is an op as saved plans hold it: the connectors.Op's fields, then
// its desired set and hash.
type wireOp struct {
	connectors.Op
	Desired connectors.Attrs `json:"desired,omitempty"`
	Hash    uint64           `json:"hash,omitempty"`
}

// MarshalJSON writes o as wireOp. A compact op must be made plain first
// (Target.Plain): its values have no names here.
func (o Op) MarshalJSON() ([]byte, error) {
	return json.Marshal(wireOp{Op: o.Op(), Desired: o.Desired(), Hash: o.Hash})
}

// UnmarshalJSON reads what MarshalJSON writes, restoring values' exact
// types (connectors.FromJSON): an int64 comes back an int64, not a
// float64, and a list a []string.
func (o *Op) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var w wireOp
	if err := dec.Decode(&w); err != nil {
		return err
	}
	w.Desired = connectors.AttrsFromJSON(w.Desired)
	for j, c := range w.Changes {
		w.Changes[j].Old, w.Changes[j].New = connectors.FromJSON(c.Old), connectors.FromJSON(c.New)
	}
	*o = NewOp(w.Op, w.Desired)
	o.Hash = w.Hash
	return nil
}

// WithChanges returns a plain copy of op with changes in place of its
// own; the op it was copied from is unchanged.
func (o Op) WithChanges(changes []connectors.Change) Op {
	var m opMore
	if o.more != nil {
		m = *o.more
	}
	m.changes = changes
	o.more, o.values = &m, ""
	return o
}

// Members are the target ids of the users a membership op adds or
// removes, once the engine has filled them to send it.
func (o Op) Members() []string {
	if o.more == nil {
		return nil
	}
	return o.more.members
}
