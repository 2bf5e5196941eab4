package connectors

import "fmt"

// Kind is the kind of target object an op is about.
type Kind uint8

const (
	// User is the zero value: most ops are about people.
	User Kind = iota
	// Group is a group object; membership ops are sent to groups.
	Group
)

func (o Kind) String() string {
	if o == Group {
		return "group"
	}
	return "user"
}

// MarshalText writes "user" or "group".
func (o Kind) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// UnmarshalText reads "user" or "group".
func (o *Kind) UnmarshalText(b []byte) error {
	switch string(b) {
	case "user", "":
		*o = User
	case "group":
		*o = Group
	default:
		return fmt.Errorf("unknown object kind %q", b)
	}
	return nil
}

// Op is one change to one target object: the target's whole input contract.
type Op struct {
	Action Action `json:"action"`
	// Object says whether Key names a user (a source key) or a group (its
	// name).
	Object Kind `json:"object,omitempty"`
	// Disabled creates the object disabled (Create only): a hire whose
	// start date has not come yet gets an account, but not access. (It
	// sits with the other one-byte fields: a first plan holds millions of
	// ops, and padding after it cost 8 bytes each.)
	Disabled bool `json:"disabled,omitempty"`
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
	// Group names the group of a membership op.
	Group string `json:"group,omitempty"`
	// Version is the object's version as idsync last saw it (from an
	// earlier Result), for targets that check it; empty if unknown.
	Version string `json:"version,omitempty"`
	// Members are the target ids of the users a membership op adds or
	// removes. The engine fills them when it sends the op, at most the
	// target's membersPerRequest at a time.
	Members []string `json:"members,omitempty"`
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
