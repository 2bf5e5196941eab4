package diff

import (
	"slices"
	"strings"

	"github.com/idsync/idsync/connectors"
)

// isEmpty treats null, "" and an empty list alike: targets store all three
// as "no value", so telling them apart would cause an update every run.
func isEmpty(v connectors.Value) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case []string:
		return len(x) == 0
	}
	return false
}

// Equal compares two attribute values the way a target would: lists as
// sets, numbers by value whatever their Go type, and strings optionally
// ignoring case.
func Equal(a, b connectors.Value, ignoreCase bool) bool {
	if isEmpty(a) || isEmpty(b) {
		return isEmpty(a) && isEmpty(b)
	}
	switch x := a.(type) {
	case string:
		y, ok := b.(string)
		if ignoreCase {
			return ok && strings.EqualFold(x, y)
		}
		return ok && x == y
	case []string:
		y, ok := b.([]string)
		return ok && sameSet(x, y, ignoreCase)
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	}
	if x, ok := number(a); ok {
		y, ok := number(b)
		return ok && x == y
	}
	return false
}

func number(v connectors.Value) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case float64:
		return x, true
	case int:
		return float64(x), true
	}
	return 0, false
}

func sameSet(a, b []string, ignoreCase bool) bool {
	return slices.Equal(setOf(a, ignoreCase), setOf(b, ignoreCase))
}

func setOf(l []string, ignoreCase bool) []string {
	if len(l) < 2 && !ignoreCase {
		return l // already a set; most users are in one group per rule
	}
	out := make([]string, len(l))
	for i, s := range l {
		if ignoreCase {
			s = strings.ToLower(s)
		}
		out[i] = s
	}
	slices.Sort(out)
	return slices.Compact(out)
}
