package attrjson

import (
	"encoding/json"
	"testing"

	"github.com/idsync/idsync/connectors"
)

// FuzzAppendAttrsMatchesEncodingJSON builds attribute sets from fuzzed
// keys and values of every Value type and checks AppendAttrs writes the
// bytes encoding/json writes for the same map.
func FuzzAppendAttrsMatchesEncodingJSON(f *testing.F) {
	f.Add("givenName", "Zoë", "surname", "<O'Brien & \"co\">\u2028", int64(-7), 2.5, true)
	f.Add("", "\xff\x01", "_groups", "", int64(0), 1e21, false)
	f.Add("<", "a>b", "&", "Zoë", int64(1), 0.5, true)                   // each escaped alone
	f.Add("line", "José\u2028", "para", "\u2029", int64(2), 0.25, false) // escaped with nothing else to escape
	f.Fuzz(func(t *testing.T, k1, s1, k2, s2 string, n int64, x float64, b bool) {
		for _, a := range []connectors.Attrs{
			nil, {},
			{k1: s1, k2: s2},
			{k1: n, k2: b, "f": x, "nil": nil},
			{k1: []string{s1, s2}, k2: []string(nil), "empty": []string{}},
		} {
			want, err := json.Marshal(a)
			if err != nil {
				want = nil // a NaN or infinite float: compared below
			}
			got := AppendAttrs([]byte("prefix"), a)
			if string(got[:6]) != "prefix" {
				t.Fatalf("AppendAttrs dropped what the buffer held")
			}
			if want != nil && string(got[6:]) != string(want) {
				t.Errorf("AppendAttrs(%#v)\n got %s\nwant %s", a, got[6:], want)
			}
			if !json.Valid(got[6:]) {
				t.Errorf("AppendAttrs(%#v) wrote invalid JSON %s", a, got[6:])
			}
		}
	})
}
