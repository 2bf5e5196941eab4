package config

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// decoder walks a YAML node tree by hand so that every problem carries the
// file and line, unknown keys are errors, and all problems are collected
// rather than stopping at the first.
type decoder struct {
	file  string
	dir   string
	lines []string
	env   Env
	errs  []error
}

func (d *decoder) errorf(n *yaml.Node, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	d.errs = append(d.errs, &Error{File: d.file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// Error is one configuration problem.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Errors is every problem found in one load.
type Errors []error

func (e Errors) Error() string {
	msgs := make([]string, len(e))
	for i, err := range e {
		msgs[i] = err.Error()
	}
	return strings.Join(msgs, "\n")
}

// Sort orders problems by file position; problems without one keep their
// order at the end.
func (e Errors) Sort() {
	line := func(err error) int {
		var ce *Error
		if errors.As(err, &ce) && ce.Line > 0 {
			return ce.Line
		}
		return math.MaxInt
	}
	sort.SliceStable(e, func(i, j int) bool { return line(e[i]) < line(e[j]) })
}

// Unwrap lets errors.As find an individual *Error.
func (e Errors) Unwrap() []error { return e }

// fields decodes a mapping: each key must be in handlers, once.
func (d *decoder) fields(n *yaml.Node, what string, handlers map[string]func(*yaml.Node)) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "%s must be a mapping", what)
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		h, ok := handlers[k.Value]
		switch {
		case !ok:
			d.errorf(k, "unknown key %q in %s (known: %s)", k.Value, what, knownKeys(handlers))
		case seen[k.Value]:
			d.errorf(k, "duplicate key %q in %s", k.Value, what)
		default:
			seen[k.Value] = true
			h(v)
		}
	}
}

func knownKeys(h map[string]func(*yaml.Node)) string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ", ")
}

// entries walks a mapping whose keys are names (sources, targets, schema).
func (d *decoder) entries(n *yaml.Node, what string, fn func(key, val *yaml.Node)) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "%s must be a mapping of names", what)
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if seen[k.Value] {
			d.errorf(k, "duplicate %s name %q", what, k.Value)
			continue
		}
		seen[k.Value] = true
		fn(k, n.Content[i+1])
	}
}

// str decodes an interpolated string scalar.
func (d *decoder) str(n *yaml.Node, into *string) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		d.errorf(n, "want a string")
		return
	}
	v, err := Interpolate(n.Value, d.dir, d.env)
	if err != nil {
		d.errorf(n, "%v", err)
		// Keep the raw text so "X is required" does not pile onto the
		// real problem. The config is invalid and never used to run.
		v = n.Value
	}
	*into = v
}

func (d *decoder) number(n *yaml.Node, parse func(string) error) {
	var s string
	d.str(n, &s)
	if n.Kind == yaml.ScalarNode && parse(s) != nil {
		d.errorf(n, "want a number, got %q", s)
	}
}

func (d *decoder) integer(n *yaml.Node, into *int) {
	d.number(n, func(s string) error {
		v, err := strconv.Atoi(s)
		*into = v
		return err
	})
}

func (d *decoder) float(n *yaml.Node, into *float64) {
	d.number(n, func(s string) error {
		v, err := strconv.ParseFloat(s, 64)
		*into = v
		return err
	})
}

func (d *decoder) boolean(n *yaml.Node, into *bool) {
	var s string
	d.str(n, &s)
	v, err := strconv.ParseBool(s)
	if err != nil {
		d.errorf(n, "want true or false, got %q", s)
		return
	}
	*into = v
}

// literal decodes a scalar default value as the type YAML gives it: a
// quoted or plain string, a number, or a boolean.
func (d *decoder) literal(n *yaml.Node) any {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, "want a string, number or boolean")
		return nil
	}
	switch n.Tag {
	case "!!bool":
		var b bool
		d.boolean(n, &b)
		return b
	case "!!int":
		i, err := strconv.ParseInt(n.Value, 0, 64)
		if err != nil {
			d.errorf(n, "want an integer, got %q", n.Value)
		}
		return i
	case "!!float":
		var f float64
		d.float(n, &f)
		return f
	}
	var s string
	d.str(n, &s)
	return s
}

// duration decodes a positive duration (with a "d" suffix allowed).
func (d *decoder) duration(n *yaml.Node, into *time.Duration) {
	var v string
	d.str(n, &v)
	dur, err := ParseDuration(v)
	if err != nil || dur <= 0 {
		d.errorf(n, "want a duration like 30s, 15m or 7d, got %q", v)
		return
	}
	*into = dur
}

// ParseDuration reads Go durations plus a "d" suffix for days, which
// retention and grace periods are written in.
func ParseDuration(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

// rule decodes a CEL expression and records where its text begins, so CEL's
// positions can be reported as file positions.
func (d *decoder) rule(n *yaml.Node, into *Rule) {
	d.str(n, &into.Text)
	into.Line, into.Column = n.Line, n.Column
	switch n.Style {
	case yaml.SingleQuotedStyle, yaml.DoubleQuotedStyle:
		into.Column++
	case yaml.LiteralStyle, yaml.FoldedStyle:
		// The text starts on the first non-blank line after the indicator.
		for l := n.Line + 1; l <= len(d.lines); l++ {
			text := d.lines[l-1]
			if strings.TrimSpace(text) != "" {
				into.Line, into.Column = l, len(text)-len(strings.TrimLeft(text, " "))+1
				break
			}
		}
	}
}

// Position maps a 1-based line and column inside the rule text to the file.
func (r Rule) Position(line, col int) (int, int) {
	if line <= 1 {
		return r.Line, r.Column + col - 1
	}
	return r.Line + line - 1, col
}
