package pipeline

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"

	"github.com/idsync/idsync/connectors"
	"github.com/idsync/idsync/connectors/attrjson"
)

// encodeAttrs is the stored form of an attribute set. JSON keeps state
// readable by `idsync state export` and by hand; decodeAttrs restores the
// exact Value types.
func encodeAttrs(a connectors.Attrs) ([]byte, error) {
	return attrjson.AppendAttrs(make([]byte, 0, 64*len(a)), a), nil
}

// encodeChanges encodes the attribute set that changes' new values make,
// byte for byte as encodeAttrs encodes it: by name, the last change of a
// name winning as in a map. A first sync commits a million creates, and
// building a map of each one's changes to encode it was a tenth of the
// commit goroutine's work, which every op of an apply waits for.
func encodeChanges(changes []connectors.Change) []byte {
	var small [16]int
	order := small[:0]
	size := 2
	for i, c := range changes {
		order = append(order, i)
		size += len(c.Attr) + 4 + valueSize(c.New)
	}
	slices.SortStableFunc(order, func(a, b int) int { return strings.Compare(changes[a].Attr, changes[b].Attr) })
	b := append(make([]byte, 0, size), '{')
	for j, i := range order {
		if j+1 < len(order) && changes[order[j+1]].Attr == changes[i].Attr {
			continue // a later change of the same name wins
		}
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = attrjson.AppendString(b, changes[i].Attr)
		b = append(b, ':')
		b = attrjson.AppendValue(b, changes[i].New)
	}
	return append(b, '}')
}

// valueSize guesses v's encoded size, to size a buffer once.
func valueSize(v connectors.Value) int {
	if s, ok := v.(string); ok {
		return len(s) + 2
	}
	return 8
}

// groupsAttr held, inside the stored attributes, the groups idsync last
// put the user in, in stores before v5; they have a key of their own now
// (moveGroups). Attribute names starting with "_" are reserved.
const groupsAttr = "_groups"

// versionAttr holds, inside the stored attributes, the object's version in
// the target (an ETag), when the target has them.
const versionAttr = "_version"

// decodeState splits stored attributes from the target version kept with
// them.
func decodeState(b []byte) (attrs connectors.Attrs, version string, err error) {
	if attrs, err = decodeAttrs(b); err != nil {
		return nil, "", err
	}
	version, _ = attrs[versionAttr].(string)
	delete(attrs, versionAttr)
	return attrs, version, nil
}

// moveGroups takes the groups out of attributes stored before v5, for
// snapshots.Store.MoveGroups.
func moveGroups(b []byte) (rest []byte, groups []string, ok bool, err error) {
	attrs, err := decodeAttrs(b)
	if err != nil {
		return nil, nil, false, err
	}
	v, ok := attrs[groupsAttr]
	if !ok {
		return nil, nil, false, nil
	}
	groups, _ = v.([]string)
	delete(attrs, groupsAttr)
	rest, err = encodeAttrs(attrs)
	return rest, groups, true, err
}

func decodeAttrs(b []byte) (connectors.Attrs, error) {
	if len(b) == 0 {
		return connectors.Attrs{}, nil
	}
	if a, ok := attrjson.ParseAttrs(b); ok {
		return a, nil // the common case, without reflection
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	return connectors.AttrsFromJSON(m), nil
}
