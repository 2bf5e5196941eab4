package connectors

// Op is one change to one target object: the target's whole input contract.
type Op struct {
	Action Action `json:"action"`
	// Key is the source anchor (for example employeeId) the object is for.
	Key string `json:"key"`
	// ID is the target's own id for the object. Empty only for Create.
	ID string `json:"id,omitempty"`
	// Changes lists the attributes to write. For Create and Adopt it is every
	// desired attribute; for Update only those that differ. Empty for Disable,
	// Enable and Delete.
	Changes []Change `json:"changes,omitempty"`
	// Reason is a short machine-readable cause ("new", "changed",
	// "left-scope", "absent-from-full", "rehire", "match"). It is for
	// people and logs, not to be used for any decision during apply.
	Reason string `json:"reason,omitempty"`
}

// Change is one attribute's transition. Old is nil on create.
type Change struct {
	Attr string `json:"attr"`
	Old  Value  `json:"old,omitempty"`
	New  Value  `json:"new"`
}

// Value is an attribute value. Its dynamic type is one of: nil (absent or
// cleared), string, bool, int64, float64 or []string (a multi-valued
// attribute, compared as a set). Timestamps travel as RFC 3339 strings in UTC
// so that every target sees one spelling.
type Value = any

// Attrs is a full attribute set of one object.
type Attrs map[string]Value

// Attrs returns the op's changes as a map of new values.
func (o Op) Attrs() Attrs {
	m := make(Attrs, len(o.Changes))
	for _, c := range o.Changes {
		m[c.Attr] = c.New
	}
	return m
}
