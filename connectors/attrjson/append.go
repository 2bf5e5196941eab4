package attrjson

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/idsync/idsync/connectors"
)

// AppendAttrs appends a as a JSON object with its keys sorted, as
// encoding/json writes a map; a nil set is null.
func AppendAttrs(b []byte, a connectors.Attrs) []byte {
	if a == nil {
		return append(b, "null"...)
	}
	var small [16]string
	keys := small[:0]
	for k := range a {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendString(b, k)
		b = append(b, ':')
		b = AppendValue(b, a[k])
	}
	return append(b, '}')
}

// AppendValue appends an attribute value. The common types are written
// directly; anything else goes through encoding/json.
func AppendValue(b []byte, v connectors.Value) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...)
	case string:
		return AppendString(b, v)
	case bool:
		return strconv.AppendBool(b, v)
	case int64:
		return strconv.AppendInt(b, v, 10)
	case []string:
		if v == nil {
			return append(b, "null"...)
		}
		b = append(b, '[')
		for i, s := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = AppendString(b, s)
		}
		return append(b, ']')
	}
	j, err := json.Marshal(v)
	if err != nil {
		// Values are the types listed on connectors.Value; a NaN float
		// is the only one encoding/json refuses.
		return append(b, "null"...)
	}
	return append(b, j...)
}

// AppendString appends s quoted as encoding/json quotes it (HTML-safe).
// Plain strings, including valid non-ASCII names, are copied as they are;
// the rare string that needs escaping goes through encoding/json.
func AppendString(b []byte, s string) []byte {
	// One table load a byte: a plan of a million creates writes some
	// thirty million strings.
	var class byte
	for i := 0; i < len(s); i++ {
		class |= byteClass[s[i]]
	}
	if class&escaped != 0 || class&nonASCII != 0 && (!utf8.ValidString(s) || class&separator != 0 && strings.ContainsAny(s, "\u2028\u2029")) {
		return appendQuoted(b, s)
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// Classes of bytes in a string, for AppendString.
const (
	escaped   = 1 << iota // encoding/json escapes it
	nonASCII              // part of a multi-byte character
	separator             // the first byte of U+2028 and U+2029, which encoding/json escapes
)

var byteClass = func() (t [256]byte) {
	for c := range t {
		switch {
		case c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&':
			t[c] = escaped
		case c == 0xe2:
			t[c] = nonASCII | separator
		case c >= utf8.RuneSelf:
			t[c] = nonASCII
		}
	}
	return t
}()

func appendQuoted(b []byte, s string) []byte {
	j, _ := json.Marshal(s) // a string always marshals
	return append(b, j...)
}

// AppendField appends `,"name":value`, or nothing when value is empty: a
// string field with omitempty, as encoding/json writes it.
func AppendField(b []byte, name, value string) []byte {
	if value == "" {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, `":`...)
	return AppendString(b, value)
}
