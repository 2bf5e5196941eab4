package diff

// Deprovision is what happens to an object whose identity left scope or
// the source.
type Deprovision uint8

const (
	// DisableObject keeps the object but disables it. The default: it is
	// reversible, and a rehire reactivates the same object.
	DisableObject Deprovision = iota + 1
	// DeleteObject removes the object.
	DeleteObject
	// Ignore leaves the object as it is.
	Ignore
)

// ParseDeprovision reads the config spelling.
func ParseDeprovision(s string) (Deprovision, bool) {
	switch s {
	case "disable":
		return DisableObject, true
	case "delete":
		return DeleteObject, true
	case "ignore":
		return Ignore, true
	}
	return 0, false
}

// Policy is what the differ needs to know about a target's rules.
type Policy struct {
	Deprovision Deprovision
	// Attrs lists the managed attributes in config order; ops list their
	// changes in this order so plans read the same every run.
	Attrs []AttrPolicy
	// Groups is true when the target manages group memberships.
	Groups bool
}

// AttrPolicy is how one attribute is compared and written.
type AttrPolicy struct {
	Name string
	// IgnoreCase treats values differing only in case as equal.
	IgnoreCase bool
	// ClearOnNull clears the attribute in the target when the rule yields
	// null. Off by default: a missing source value then leaves the target's
	// value alone, so a gap in HR data never blanks a directory field.
	ClearOnNull bool
	// CreateOnly attributes are written on create and never compared again.
	CreateOnly bool
	// Reference attributes hold another identity's source key. They are
	// written in a second pass after creates, when the referenced object
	// exists, so a create never waits for (or fails on) its manager.
	Reference bool
}

// Names lists the attribute names in config order.
func (p Policy) Names() []string {
	names := make([]string, len(p.Attrs))
	for i, a := range p.Attrs {
		names[i] = a.Name
	}
	return names
}
