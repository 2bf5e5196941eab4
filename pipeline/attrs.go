package pipeline

import (
	"bytes"
	"encoding/json"

	"github.com/idsync/idsync/connectors"
)

// encodeAttrs is the stored form of an attribute set. JSON keeps state
// readable by `idsync state export` and by hand; decodeAttrs restores the
// exact Value types.
func encodeAttrs(a connectors.Attrs) ([]byte, error) {
	return json.Marshal(a)
}

func decodeAttrs(b []byte) (connectors.Attrs, error) {
	if len(b) == 0 {
		return connectors.Attrs{}, nil
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	return connectors.AttrsFromJSON(m), nil
}
