package connectors

import "encoding/json"

// FromJSON maps a value decoded by encoding/json (with UseNumber) back to
// the Value types: integers to int64, other numbers to float64, arrays of
// strings to []string. Everything that stores values as JSON reads them
// through here so a round trip never turns 3 into 3.0 or a list into []any.
func FromJSON(v any) Value {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return v
}

// AttrsFromJSON applies FromJSON to every value of a decoded object.
func AttrsFromJSON(m map[string]any) Attrs {
	if m == nil {
		return nil
	}
	out := make(Attrs, len(m))
	for k, v := range m {
		out[k] = FromJSON(v)
	}
	return out
}
