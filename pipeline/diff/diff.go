package diff

import (
	"slices"

	"github.com/idsync/idsync/connectors"
)

// Reasons recorded on ops. They complete "because ...".
const (
	ReasonNew         = "new"
	ReasonChanged     = "changed"
	ReasonLeftScope   = "left-scope"
	ReasonAbsent      = "absent-from-full"
	ReasonTombstone   = "tombstone"
	ReasonGrace       = "grace-expired"
	ReasonRehire      = "rehire"
	ReasonMatch       = "match"
	ReasonActivated   = "activated"   // the enabled rule turned true (a start date came)
	ReasonDeactivated = "deactivated" // the enabled rule turned false while in scope
	ReasonEmptyGroup  = "empty-group"
)

// Deprovisioning reports whether a disable with this reason means the
// identity left (so a grace-period delete may follow), rather than an
// in-scope identity being inactive for now.
func Deprovisioning(reason string) bool { return reason != ReasonDeactivated }

// Desired is what the rules say one identity should look like in a target.
type Desired struct {
	Key     string
	InScope bool
	// Enabled is false for an in-scope identity that must not have access
	// yet (or now): the object exists, disabled.
	Enabled bool
	// Attrs are the desired values by attribute name. Values holds them
	// in policy order instead, and Attrs is then nil until Map builds it:
	// a first plan creates millions of objects, and building a map for
	// each was a tenth of its time. When both are set, Attrs is the one.
	Attrs  connectors.Attrs
	Values []connectors.Value
	// Groups are the names of the groups the identity belongs to.
	Groups []string
}

// Value is the desired value of the policy's attribute i.
func (d *Desired) Value(p Policy, i int) connectors.Value {
	if d.Attrs != nil || d.Values == nil {
		return d.Attrs[p.Attrs[i].Name]
	}
	return d.Values[i]
}

// Set sets the desired value of the policy's attribute i.
func (d *Desired) Set(p Policy, i int, v connectors.Value) {
	if d.Attrs != nil || d.Values == nil {
		if d.Attrs == nil {
			d.Attrs = connectors.Attrs{}
		}
		d.Attrs[p.Attrs[i].Name] = v
		return
	}
	d.Values[i] = v
}

// Map returns the desired values by name, building them from Values.
func (d *Desired) Map(p Policy) connectors.Attrs {
	if d.Attrs == nil && d.Values != nil {
		d.Attrs = make(connectors.Attrs, len(p.Attrs))
		for i, a := range p.Attrs {
			d.Attrs[a.Name] = d.Values[i]
		}
	}
	return d.Attrs
}

// Stored is the last-known state of the identity's object in the target.
type Stored struct {
	ID       string
	Disabled bool
	// Deprovisioned is true when the object was disabled because its
	// identity left, false when it is disabled by the enabled rule.
	Deprovisioned bool
	Attrs         connectors.Attrs
	Groups        []string
	// Version is the object's version in the target, if it has them. The
	// differ ignores it; it rides along on ops.
	Version string
}

// Present returns the ops for an identity present in the source. stored is
// nil when idsync manages no object for it yet.
func Present(p Policy, d Desired, stored *Stored) []connectors.Op {
	return AppendPresent(nil, p, d, stored)
}

// AppendPresent appends Present's ops to dst and returns the extended
// slice, so a caller that plans many identities can give them one backing
// array to reuse instead of a new one each.
func AppendPresent(dst []connectors.Op, p Policy, d Desired, stored *Stored) []connectors.Op {
	switch {
	case stored == nil && d.InScope:
		return appendCreate(dst, p, d)
	case stored == nil:
		return dst
	case !d.InScope:
		return appendDeprovision(dst, p, d.Key, stored, ReasonLeftScope)
	}
	ops := dst
	reason := ReasonChanged
	switch {
	case stored.Disabled && d.Enabled:
		reason = ReasonActivated
		if stored.Deprovisioned {
			reason = ReasonRehire
		}
		ops = append(ops, connectors.Op{Action: connectors.Enable, Key: d.Key, ID: stored.ID, Reason: reason})
	case !d.Enabled && (!stored.Disabled || stored.Deprovisioned):
		// Rehired with a future start: it stays disabled, but as inactive,
		// no longer as deprovisioned, so no grace-period delete hits it.
		ops = append(ops, connectors.Op{Action: connectors.Disable, Key: d.Key, ID: stored.ID, Reason: ReasonDeactivated})
		if stored.Deprovisioned {
			reason = ReasonRehire
		}
	}
	if ch := Changes(p, d.Map(p), stored.Attrs); len(ch) > 0 {
		ops = append(ops, connectors.Op{Action: connectors.Update, Key: d.Key, ID: stored.ID, Changes: ch, Reason: reason})
	}
	if p.Groups {
		ops = appendMemberships(ops, d.Key, d.Groups, stored.Groups, reason)
	}
	return ops
}

// appendCreate appends a new identity's create, the update that sets its
// references once every create is done, and its memberships.
func appendCreate(ops []connectors.Op, p Policy, d Desired) []connectors.Op {
	return appendCreateOps(ops, p, d, createChanges(p, &d))
}

// AppendCompactCreate appends the ops of an identity new to the target,
// like AppendPresent, but leaves the create's Changes empty: it sets
// values, one per attribute in policy order, to the create's attribute
// values instead, nil for each attribute a create leaves out (see
// plan.Compact).
func AppendCompactCreate(ops []connectors.Op, p Policy, d Desired, values []connectors.Value) []connectors.Op {
	for i, a := range p.Attrs {
		values[i] = nil
		if v := d.Value(p, i); inCreate(a, v) {
			values[i] = v
		}
	}
	return appendCreateOps(ops, p, d, nil)
}

// appendCreateOps appends a create with the given changes, then the
// identity's references and memberships.
func appendCreateOps(ops []connectors.Op, p Policy, d Desired, changes []connectors.Change) []connectors.Op {
	ops = append(ops, connectors.Op{Action: connectors.Create, Key: d.Key, Changes: changes, Reason: ReasonNew, Disabled: !d.Enabled})
	var refs []connectors.Change
	for i, a := range p.Attrs {
		if v := d.Value(p, i); a.Reference && !isEmpty(v) {
			refs = append(refs, connectors.Change{Attr: a.Name, New: v})
		}
	}
	if len(refs) > 0 {
		ops = append(ops, connectors.Op{Action: connectors.Update, Key: d.Key, Changes: refs, Reason: ReasonNew})
	}
	if p.Groups {
		ops = appendMemberships(ops, d.Key, d.Groups, nil, ReasonNew)
	}
	return ops
}

// Absent returns the ops for a managed object whose identity is missing
// from a full snapshot (reason ReasonAbsent) or tombstoned in a delta
// (ReasonTombstone).
func Absent(p Policy, key string, stored *Stored, reason string) []connectors.Op {
	return appendDeprovision(nil, p, key, stored, reason)
}

// Expired returns the hard delete of an object deprovisioned for longer
// than the grace period; the caller decides that it has.
func Expired(key string, stored *Stored) []connectors.Op {
	return []connectors.Op{{Action: connectors.Delete, Key: key, ID: stored.ID, Reason: ReasonGrace}}
}

func appendDeprovision(ops []connectors.Op, p Policy, key string, s *Stored, reason string) []connectors.Op {
	switch p.Deprovision {
	case DeleteObject:
		return append(ops, connectors.Op{Action: connectors.Delete, Key: key, ID: s.ID, Reason: reason})
	case Ignore:
		return ops
	}
	if s.Disabled && s.Deprovisioned {
		return ops
	}
	return append(ops, connectors.Op{Action: connectors.Disable, Key: key, ID: s.ID, Reason: reason})
}

// Adopt returns the op that links a pre-existing object found by match,
// writing only the attributes that differ from what it holds.
func Adopt(p Policy, d Desired, found connectors.Object) connectors.Op {
	return connectors.Op{Action: connectors.Adopt, Key: d.Key, ID: found.ID, Changes: adoptChanges(p, d.Map(p), found.Attrs), Reason: ReasonMatch}
}

func createChanges(p Policy, d *Desired) []connectors.Change {
	out := make([]connectors.Change, 0, len(p.Attrs))
	for i, a := range p.Attrs {
		if v := d.Value(p, i); inCreate(a, v) {
			out = append(out, connectors.Change{Attr: a.Name, New: v})
		}
	}
	return out
}

// inCreate reports whether a create sets attribute a to v: references are
// set by an update once their targets exist, and empty values not at all.
func inCreate(a AttrPolicy, v connectors.Value) bool {
	return !isEmpty(v) && !a.Reference
}

// adoptChanges are the differences an adopted object needs; create-only
// attributes are set too, since idsync never created this object.
func adoptChanges(p Policy, want, have connectors.Attrs) []connectors.Change {
	var out []connectors.Change
	for _, a := range p.Attrs {
		if w := want[a.Name]; !a.Reference && !isEmpty(w) && !Equal(w, have[a.Name], a.IgnoreCase) {
			out = append(out, connectors.Change{Attr: a.Name, Old: have[a.Name], New: w})
		}
	}
	return out
}

// Changes lists the attributes whose desired value differs from have, in
// policy order. A null desired value changes nothing unless the attribute
// clears on null; create-only attributes never change.
func Changes(p Policy, want, have connectors.Attrs) []connectors.Change {
	var out []connectors.Change
	for _, a := range p.Attrs {
		w, h := want[a.Name], have[a.Name]
		if a.CreateOnly || (isEmpty(w) && !a.ClearOnNull) {
			continue
		}
		if !Equal(w, h, a.IgnoreCase) {
			out = append(out, connectors.Change{Attr: a.Name, Old: h, New: w})
		}
	}
	return out
}

// appendMemberships diffs group names as sets and appends one op per group
// joined or left, never the whole list.
func appendMemberships(ops []connectors.Op, key string, want, have []string, reason string) []connectors.Op {
	for _, g := range setOf(want, false) {
		if !slices.Contains(have, g) {
			ops = append(ops, connectors.Op{Action: connectors.AddMember, Key: key, Group: g, Reason: reason})
		}
	}
	for _, g := range setOf(have, false) {
		if !slices.Contains(want, g) {
			ops = append(ops, connectors.Op{Action: connectors.RemoveMember, Key: key, Group: g, Reason: reason})
		}
	}
	return ops
}
