package batch

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseText(t *testing.T) {
	tests := map[string]struct {
		typ  Type
		in   string
		want any
		err  string
	}{
		"string kept verbatim":   {typ: String, in: " a ", want: " a "},
		"empty string":           {typ: String, in: "", want: ""},
		"empty int is null":      {typ: Int, in: " ", want: nil},
		"int":                    {typ: Int, in: "42", want: int64(42)},
		"bad int":                {typ: Int, in: "4x", err: `cannot parse "4x" as int`},
		"float":                  {typ: Float, in: "2.5", want: 2.5},
		"bool any case":          {typ: Bool, in: "TRUE", want: true},
		"bad bool":               {typ: Bool, in: "yes", err: `cannot parse "yes" as bool`},
		"date is midnight UTC":   {typ: Timestamp, in: "2024-02-29", want: time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)},
		"RFC 3339 offset to UTC": {typ: Timestamp, in: "2024-02-29T10:00:00+02:00", want: time.Date(2024, 2, 29, 8, 0, 0, 0, time.UTC)},
		"bad date":               {typ: Timestamp, in: "2024-02-30", err: `cannot parse "2024-02-30" as timestamp (want RFC 3339 or YYYY-MM-DD)`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ParseText(tc.typ, tc.in)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("%s: err = %v, want %q", name, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s: (-want +got):\n%s", name, diff)
			}
		})
	}
}

func TestParseType(t *testing.T) {
	for _, name := range []string{"string", "int", "float", "bool", "timestamp"} {
		typ, err := ParseType(name)
		if err != nil || typ.String() != name {
			t.Errorf("ParseType(%q) = %v, %v", name, typ, err)
		}
	}
	if _, err := ParseType("integer"); err == nil {
		t.Errorf("ParseType(integer): want an error")
	}
}
