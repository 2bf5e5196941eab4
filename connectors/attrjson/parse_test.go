package attrjson

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/idsync/idsync/connectors"
)

// viaEncodingJSON is how stored sets were read before ParseAttrs.
func viaEncodingJSON(b []byte) (connectors.Attrs, error) {
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, json.Unmarshal(b, &m) // trailing data: let it name the error
	}
	return connectors.AttrsFromJSON(m), nil
}

// agrees fails t if ParseAttrs accepts b but reads it differently from
// encoding/json, or accepts what encoding/json rejects.
func agrees(t *testing.T, b []byte) bool {
	t.Helper()
	got, ok := ParseAttrs(b)
	if !ok {
		return false
	}
	want, err := viaEncodingJSON(b)
	if err != nil {
		t.Fatalf("ParseAttrs accepted %q, which encoding/json rejects: %v", b, err)
	}
	if !cmp.Equal(got, want) {
		t.Fatalf("ParseAttrs(%q) = %#v, encoding/json gives %#v", b, got, want)
	}
	return true
}

// FuzzParseAttrs reads fuzzed sets as AppendAttrs writes them, which
// ParseAttrs must accept unless a value needs escaping or is a float, and
// fuzzed bytes, which it must read as encoding/json does or decline.
func FuzzParseAttrs(f *testing.F) {
	f.Add("givenName", "Zoë", "_groups", "Eng", int64(-7), true, []byte(`{"a":[],"b":-0,"c":01}`))
	f.Add("x", `"quoted"`, "y", "\xff", int64(1)<<62, false, []byte(`{"a": 1}`))
	f.Add("", "", "", "", int64(0), false, []byte("{\"a\":\"\xff\"}"))
	f.Add("", "", "", "", int64(0), false, []byte("{\"b\":[\"\x01\"]}"))
	f.Add("", "", "", "", int64(0), false, []byte(`{"a":1.5,"b":99999999999999999999,"c":{"d":1}}`))
	f.Fuzz(func(t *testing.T, k1, s1, k2, s2 string, n int64, b bool, raw []byte) {
		a := connectors.Attrs{k1: s1, k2: []string{s2, s1}, "n": n, "b": b, "nil": nil, "empty": []string{}}
		enc := AppendAttrs(nil, a)
		plain := !bytes.ContainsAny(enc, `\`)
		if !agrees(t, enc) && plain {
			t.Errorf("ParseAttrs declined %s, which AppendAttrs wrote without escapes", enc)
		}
		agrees(t, raw)
	})
}

// storedSet is an attribute set as the bench's directory target stores
// it: ten attributes, one of them a boolean, and the version.
var storedSet = []byte(`{"_v":"3","active":true,"country":"DE","department":"Engineering",` +
	`"displayName":"Zoë Müller","givenName":"Zoë","mail":"zoë.müller@example.com",` +
	`"manager":"E100079","surname":"Müller","title":"Engineer","userName":"e100629"}`)

func TestParseAttrsReadsAStoredSet(t *testing.T) {
	if !agrees(t, storedSet) {
		t.Fatalf("ParseAttrs declined %s", storedSet)
	}
}

// BenchmarkParseAttrs reads one stored set: a plan decodes one for each
// changed record and target, and an apply one for each membership.
func BenchmarkParseAttrs(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := ParseAttrs(storedSet); !ok {
			b.Fatal("declined")
		}
	}
}
