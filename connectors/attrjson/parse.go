package attrjson

import (
	"bytes"
	"strconv"
	"unicode/utf8"

	"github.com/idsync/idsync/connectors"
)

// ParseAttrs reads an attribute set as AppendAttrs writes it: one object
// of plain strings, integers, booleans, nulls and lists of strings, with
// no escapes and no spaces. Anything else (a float, an escaped string,
// spaces, a nested object) makes ok false, and the caller decodes with
// encoding/json instead; when ok is true, the result is what encoding/json
// and connectors.AttrsFromJSON would give. Applying a membership decodes
// the member's stored set, and encoding/json was a twentieth of an apply.
func ParseAttrs(b []byte) (a connectors.Attrs, ok bool) {
	p := parser{b: b}
	if !p.eat('{') {
		return nil, false
	}
	a = connectors.Attrs{}
	if p.eat('}') {
		return a, p.done()
	}
	for {
		key, ok := p.str()
		if !ok || !p.eat(':') {
			return nil, false
		}
		v, ok := p.value()
		if !ok {
			return nil, false
		}
		a[key] = v
		if p.eat('}') {
			return a, p.done()
		}
		if !p.eat(',') {
			return nil, false
		}
	}
}

type parser struct {
	b []byte
	i int
}

func (p *parser) eat(c byte) bool {
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *parser) done() bool { return p.i == len(p.b) }

func (p *parser) lit(s string) bool {
	if bytes.HasPrefix(p.b[p.i:], []byte(s)) {
		p.i += len(s)
		return true
	}
	return false
}

// str reads a string with no escapes, no control characters and valid
// UTF-8, the only kind AppendString writes unquoted.
func (p *parser) str() (string, bool) {
	if !p.eat('"') {
		return "", false
	}
	rest := p.b[p.i:]
	end := bytes.IndexByte(rest, '"')
	if end < 0 {
		return "", false
	}
	s := rest[:end]
	for _, c := range s {
		if c < 0x20 || c == '\\' {
			return "", false
		}
	}
	if !utf8.Valid(s) {
		return "", false
	}
	p.i += end + 1
	return string(s), true
}

func (p *parser) value() (connectors.Value, bool) {
	if p.i >= len(p.b) {
		return nil, false
	}
	switch c := p.b[p.i]; {
	case c == '"':
		return p.str()
	case c == 'n':
		return nil, p.lit("null")
	case c == 't':
		return true, p.lit("true")
	case c == 'f':
		return false, p.lit("false")
	case c == '[':
		return p.list()
	case c == '-' || c >= '0' && c <= '9':
		return p.integer()
	}
	return nil, false
}

// integer reads a JSON integer that fits an int64; fractions, exponents
// and larger numbers are left to encoding/json.
func (p *parser) integer() (connectors.Value, bool) {
	start := p.i
	p.eat('-')
	digits := p.i
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
	}
	n := p.i - digits
	if n == 0 || n > 1 && p.b[digits] == '0' {
		return nil, false // not JSON
	}
	if p.i < len(p.b) && (p.b[p.i] == '.' || p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		return nil, false
	}
	v, err := strconv.ParseInt(string(p.b[start:p.i]), 10, 64)
	return v, err == nil
}

func (p *parser) list() (connectors.Value, bool) {
	p.eat('[')
	out := []string{}
	if p.eat(']') {
		return out, true
	}
	for {
		s, ok := p.str()
		if !ok {
			return nil, false
		}
		out = append(out, s)
		if p.eat(']') {
			return out, true
		}
		if !p.eat(',') {
			return nil, false
		}
	}
}
