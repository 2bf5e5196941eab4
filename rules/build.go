package rules

import (
	celast "cel.dev/cel-go/common/ast"
)

// appendFunc appends a string rule's value on row i to buf; ok is false
// when the row reads a null field.
type appendFunc = func(ev *Evaluator, i int, buf []byte) ([]byte, bool)

// build turns an appendFunc into a strFunc that makes the value in the
// evaluator's buffer and copies it out once. Concatenating a pair at a
// time made a string for every +, and lowerAscii over a concatenation
// another: lowerAscii(given + "." + surname) + "@example.com", a typical
// mail rule, made four strings to keep one.
func build(app appendFunc) strFunc {
	if app == nil {
		return nil
	}
	return func(ev *Evaluator, i int) (string, bool) {
		// The buffer is this rule's until it returns: a rule nested in
		// it (a branch of ?: say) finds none and builds in its own.
		buf := ev.text
		ev.text = nil
		buf, ok := app(ev, i, buf[:0])
		ev.text = buf
		if !ok {
			return "", false
		}
		return ev.arena.keep(buf), true
	}
}

// appender compiles a string expression to append its value:
// concatenations and case mappings of them write into the buffer, and
// anything else appends the value its strFunc returns.
func (c *fastCompiler) appender(e celast.Expr) appendFunc {
	if overload, args, ok := c.call(e); ok {
		if app := c.appendCall(overload, args); app != nil {
			return app
		}
	}
	f := c.str(e)
	if f == nil {
		return nil
	}
	return func(ev *Evaluator, i int, buf []byte) ([]byte, bool) {
		s, ok := f(ev, i)
		return append(buf, s...), ok
	}
}

// appendCall is appender for a concatenation or a case mapping; nil for
// any other call.
func (c *fastCompiler) appendCall(overload string, args []celast.Expr) appendFunc {
	switch lo, hi, delta := caseRange(overload); {
	case overload == "add_string" && len(args) == 2:
		l, r := c.appender(args[0]), c.appender(args[1])
		if l == nil || r == nil {
			return nil
		}
		return func(ev *Evaluator, i int, buf []byte) ([]byte, bool) {
			buf, ok := l(ev, i, buf)
			if !ok {
				return buf, false
			}
			return r(ev, i, buf)
		}
	case delta != 0 && len(args) == 1:
		inner := c.appender(args[0])
		if inner == nil {
			return nil
		}
		return func(ev *Evaluator, i int, buf []byte) ([]byte, bool) {
			start := len(buf)
			buf, ok := inner(ev, i, buf)
			shiftASCII(buf[start:], lo, hi, delta)
			return buf, ok
		}
	}
	return nil
}
