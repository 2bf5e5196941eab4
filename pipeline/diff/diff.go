package diff

import (
	"github.com/idsync/idsync/connectors"
)

// Reasons recorded on ops. They complete "because ...".
const (
	ReasonNew       = "new"
	ReasonChanged   = "changed"
	ReasonLeftScope = "left-scope"
	ReasonAbsent    = "absent-from-full"
	ReasonRehire    = "rehire"
	ReasonMatch     = "match"
)

// Desired is what the rules say one identity should look like in a target.
type Desired struct {
	Key     string
	InScope bool
	Attrs   connectors.Attrs
}

// Stored is the last-known state of the identity's object in the target.
type Stored struct {
	ID       string
	Disabled bool
	Attrs    connectors.Attrs
}

// Present returns the ops for an identity present in the source. stored is
// nil when idsync manages no object for it yet.
func Present(p Policy, d Desired, stored *Stored) []connectors.Op {
	switch {
	case stored == nil && d.InScope:
		return []connectors.Op{{Action: connectors.Create, Key: d.Key, Changes: createChanges(p, d.Attrs), Reason: ReasonNew}}
	case stored == nil:
		return nil
	case !d.InScope:
		return deprovision(p, d.Key, stored, ReasonLeftScope)
	}
	var ops []connectors.Op
	reason := ReasonChanged
	if stored.Disabled {
		ops = append(ops, connectors.Op{Action: connectors.Enable, Key: d.Key, ID: stored.ID, Reason: ReasonRehire})
		reason = ReasonRehire
	}
	if ch := Changes(p, d.Attrs, stored.Attrs); len(ch) > 0 {
		ops = append(ops, connectors.Op{Action: connectors.Update, Key: d.Key, ID: stored.ID, Changes: ch, Reason: reason})
	}
	return ops
}

// Absent returns the ops for a managed object whose identity is missing
// from a full snapshot.
func Absent(p Policy, key string, stored *Stored) []connectors.Op {
	return deprovision(p, key, stored, ReasonAbsent)
}

func deprovision(p Policy, key string, s *Stored, reason string) []connectors.Op {
	switch p.Deprovision {
	case DeleteObject:
		return []connectors.Op{{Action: connectors.Delete, Key: key, ID: s.ID, Reason: reason}}
	case Ignore:
		return nil
	}
	if s.Disabled {
		return nil
	}
	return []connectors.Op{{Action: connectors.Disable, Key: key, ID: s.ID, Reason: reason}}
}

// Adopt returns the op that links a pre-existing object found by match,
// writing only the attributes that differ from what it holds.
func Adopt(p Policy, d Desired, found connectors.Object) connectors.Op {
	return connectors.Op{Action: connectors.Adopt, Key: d.Key, ID: found.ID, Changes: Changes(p, d.Attrs, found.Attrs), Reason: ReasonMatch}
}

func createChanges(p Policy, want connectors.Attrs) []connectors.Change {
	out := make([]connectors.Change, 0, len(p.Attrs))
	for _, a := range p.Attrs {
		if v := want[a.Name]; !isEmpty(v) {
			out = append(out, connectors.Change{Attr: a.Name, New: v})
		}
	}
	return out
}

// Changes lists the attributes whose desired value differs from have, in
// policy order. A null desired value changes nothing unless the attribute
// clears on null.
func Changes(p Policy, want, have connectors.Attrs) []connectors.Change {
	var out []connectors.Change
	for _, a := range p.Attrs {
		w, h := want[a.Name], have[a.Name]
		if isEmpty(w) && !a.ClearOnNull {
			continue
		}
		if !Equal(w, h, a.IgnoreCase) {
			out = append(out, connectors.Change{Attr: a.Name, Old: h, New: w})
		}
	}
	return out
}
