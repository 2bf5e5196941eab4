package connectors

import "fmt"

// Action is what an op does to a target object. The zero value is invalid so
// that a forgotten assignment is caught rather than read as a create.
type Action uint8

const (
	Create       Action = iota + 1 // '+': a new object.
	Update                         // '~': changed attributes only.
	Disable                        // '!': the object stays but cannot sign in.
	Enable                         // '^': a disabled object is active again.
	Delete                         // '-': the object is removed.
	Adopt                          // '&': a pre-existing object found by match is linked, not created.
	AddMember                      // '>': a user joins a group.
	RemoveMember                   // '<': a user leaves a group.
)

// Actions lists every valid action in plan order: the order a reader expects
// and the order appliers need (objects exist before memberships change).
var Actions = []Action{Adopt, Create, Enable, Update, AddMember, RemoveMember, Disable, Delete}

func (a Action) String() string {
	switch a {
	case Create:
		return "create"
	case Update:
		return "update"
	case Disable:
		return "disable"
	case Enable:
		return "enable"
	case Delete:
		return "delete"
	case Adopt:
		return "adopt"
	case AddMember:
		return "add-member"
	case RemoveMember:
		return "remove-member"
	}
	return fmt.Sprintf("Action(%d)", uint8(a))
}

// Symbol is the one-character marker used in human plan output.
func (a Action) Symbol() byte {
	switch a {
	case Create:
		return '+'
	case Update:
		return '~'
	case Disable:
		return '!'
	case Enable:
		return '^'
	case Delete:
		return '-'
	case Adopt:
		return '&'
	case AddMember:
		return '>'
	case RemoveMember:
		return '<'
	}
	return '?'
}

// Destructive reports whether the action removes access. The deletion guard
// counts exactly these.
func (a Action) Destructive() bool { return a == Disable || a == Delete }

// MarshalText writes the action's name, so JSON plans read as words.
func (a Action) MarshalText() ([]byte, error) {
	if a < Create || a > RemoveMember {
		return nil, fmt.Errorf("invalid action %d", uint8(a))
	}
	return []byte(a.String()), nil
}

// UnmarshalText parses a name written by MarshalText.
func (a *Action) UnmarshalText(b []byte) error {
	for _, x := range Actions {
		if x.String() == string(b) {
			*a = x
			return nil
		}
	}
	return fmt.Errorf("unknown action %q", b)
}
