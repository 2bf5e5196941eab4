package pipeline

import (
	"bytes"
	"encoding/json"
	"slices"

	"github.com/idsync/idsync/connectors"
	"github.com/idsync/idsync/connectors/attrjson"
)

// encodeAttrs is the stored form of an attribute set. JSON keeps state
// readable by `idsync state export` and by hand; decodeAttrs restores the
// exact Value types.
func encodeAttrs(a connectors.Attrs) ([]byte, error) {
	return attrjson.AppendAttrs(make([]byte, 0, 64*len(a)), a), nil
}

// groupsAttr holds, inside the stored attributes, the groups idsync last
// put the user in. Attribute names starting with "_" are reserved for it.
const groupsAttr = "_groups"

// versionAttr holds, inside the stored attributes, the object's version in
// the target (an ETag), when the target has them.
const versionAttr = "_version"

// encodeState stores attributes and group memberships together.
func encodeState(attrs connectors.Attrs, groups []string) ([]byte, error) {
	if len(groups) == 0 {
		return encodeAttrs(attrs)
	}
	withGroups := make(connectors.Attrs, len(attrs)+1)
	for k, v := range attrs {
		withGroups[k] = v
	}
	slices.Sort(groups)
	withGroups[groupsAttr] = slices.Compact(groups)
	return encodeAttrs(withGroups)
}

// decodeState splits stored attributes from the stored group memberships
// and target version kept with them.
func decodeState(b []byte) (attrs connectors.Attrs, groups []string, version string, err error) {
	if attrs, err = decodeAttrs(b); err != nil {
		return nil, nil, "", err
	}
	groups, _ = attrs[groupsAttr].([]string)
	version, _ = attrs[versionAttr].(string)
	delete(attrs, groupsAttr)
	delete(attrs, versionAttr)
	return attrs, groups, version, nil
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
