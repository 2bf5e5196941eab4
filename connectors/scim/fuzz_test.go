package scim

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzQuote: a quoted value is a single, well-formed filter string: it
// starts and ends with a quote, every inner quote and backslash is
// escaped, and control characters are refused.
func FuzzQuote(f *testing.F) {
	for _, s := range []string{`x" or userName pr "`, `a\b`, "*)(uid=*", "Zoë", "\n", `\"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		q, err := quote(v)
		if err != nil {
			return
		}
		inner := q[1 : len(q)-1]
		if q[0] != '"' || q[len(q)-1] != '"' {
			t.Fatalf("quote(%q) = %q: not a string literal", v, q)
		}
		for i := 0; i < len(inner); i++ {
			switch inner[i] {
			case '\\':
				i++ // an escape: the next byte is escaped
			case '"':
				t.Fatalf("quote(%q) = %q: an unescaped quote ends the literal early", v, q)
			}
		}
		if unq := strings.NewReplacer(`\\`, `\`, `\"`, `"`).Replace(inner); unq != v {
			t.Errorf("quote(%q) does not round-trip: %q", v, unq)
		}
	})
}

// FuzzParseResponse: whatever a server returns, reading a user or a list
// from it never panics.
func FuzzParseResponse(f *testing.F) {
	for _, s := range []string{
		`{"id":"1","userName":"a","active":true,"emails":[{"type":"work","value":"x"}],"name":{"givenName":"g"}}`,
		`{"id":1,"emails":"notalist","name":[1],"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":"x"}}`,
		`{"Resources":[{"id":"1"},2,null],"totalResults":"x"}`, `null`, `[]`,
	} {
		f.Add(s)
	}
	tg := &Target{paths: map[string]path{}}
	for _, a := range []string{"userName", "name.givenName", `emails[type eq "work"].value`, enterpriseSchema + ":manager", enterpriseSchema + ":department"} {
		p, _ := parsePath(a)
		tg.paths[a] = p
	}
	f.Fuzz(func(t *testing.T, body string) {
		var res map[string]any
		if err := jsonUnmarshal(body, &res); err != nil {
			return
		}
		_ = tg.object(res)
		list, _ := lookupFold(res, "Resources").([]any)
		for _, e := range list {
			if m, ok := e.(map[string]any); ok {
				_ = tg.object(m)
			}
		}
	})
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
