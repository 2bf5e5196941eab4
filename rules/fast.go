package rules

import (
	"strings"
	"unicode/utf8"

	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
)

// fastFunc evaluates a rule of the common subset on row i. ok is false
// when the row reads a null field: the caller then asks CEL, so a null
// behaves exactly as it always has.
type fastFunc func(ev *Evaluator, i int) (v any, ok bool)

// Aliases, not new types, so the generic helpers below take them as they
// are.
type (
	strFunc  = func(ev *Evaluator, i int) (string, bool)
	boolFunc = func(ev *Evaluator, i int) (bool, bool)
	intFunc  = func(ev *Evaluator, i int) (int64, bool)
)

// compileFast turns a checked rule into typed Go closures when every node
// is in the subset policies mostly use: string, bool and int literals and
// fields; string concatenation, lowerAscii and upperAscii; comparisons;
// `in` a list of strings; size; &&, ||, ! and ?:. Each closure does what
// the CEL overload the checker chose does. Such rules cannot fail on
// non-null input, so skipping CEL's interpreter changes no result; it does
// cut a rule's cost several times over (CEL was a third of a first plan's
// CPU). A list literal of such strings is compiled too. It returns nil for
// anything else, which CEL keeps running.
func (e *Env) compileFast(a *celast.AST) fastFunc {
	c := fastCompiler{env: e, ast: a}
	root := a.Expr()
	switch kindOf(a, root) {
	case types.StringKind:
		if f := c.str(root); f != nil {
			return func(ev *Evaluator, i int) (any, bool) {
				s, ok := f(ev, i)
				if !ok {
					return nil, false
				}
				return ev.arena.box(s), true
			}
		}
	case types.BoolKind:
		if f := c.boolean(root); f != nil {
			return func(ev *Evaluator, i int) (any, bool) { return f(ev, i) }
		}
	case types.IntKind:
		if f := c.integer(root); f != nil {
			return func(ev *Evaluator, i int) (any, bool) { return f(ev, i) }
		}
	case types.ListKind:
		if f := c.strList(root); f != nil {
			return func(ev *Evaluator, i int) (any, bool) {
				list, ok := f(ev, i)
				if !ok {
					return nil, false
				}
				return ev.arena.boxList(list), true
			}
		}
	}
	return nil
}

// strList compiles a list literal of strings, [user.department] say, the
// shape of most groups rules. Through CEL each row built a list value and
// converted it by reflection: a tenth of a first sync's rule time.
func (c *fastCompiler) strList(e celast.Expr) func(*Evaluator, int) ([]string, bool) {
	if e.Kind() != celast.ListKind || len(e.AsList().OptionalIndices()) > 0 || e.AsList().Size() == 0 {
		return nil
	}
	var elems []strFunc
	for _, x := range e.AsList().Elements() {
		f := c.str(x)
		if f == nil {
			return nil
		}
		elems = append(elems, f)
	}
	return func(ev *Evaluator, i int) ([]string, bool) {
		out := ev.arena.list(len(elems))
		for j, f := range elems {
			var ok bool
			if out[j], ok = f(ev, i); !ok {
				return nil, false
			}
		}
		return out, true
	}
}

type fastCompiler struct {
	env *Env
	ast *celast.AST
}

func kindOf(a *celast.AST, e celast.Expr) types.Kind { return a.GetType(e.ID()).Kind() }

// call returns a call's overload and its operands, the receiver of a
// member call first; ok is false for anything but a call with one overload.
func (c *fastCompiler) call(e celast.Expr) (overload string, args []celast.Expr, ok bool) {
	if e.Kind() != celast.CallKind {
		return "", nil, false
	}
	ref, found := c.ast.ReferenceMap()[e.ID()]
	if !found || len(ref.OverloadIDs) != 1 {
		return "", nil, false
	}
	call := e.AsCall()
	if call.IsMemberFunction() {
		args = append(args, call.Target())
	}
	return ref.OverloadIDs[0], append(args, call.Args()...), true
}

// node compiles a node of kind: a literal (literal converts its value), a
// field (read reads row i of column idx), a ?: whose branches self
// compiles, or a call, which calls compiles from its overload and
// operands (the receiver of a member call first). It returns nil for a
// node of another kind or outside the subset.
func node[T any](c *fastCompiler, e celast.Expr, kind types.Kind, literal func(ref.Val) (T, bool),
	read func(ev *Evaluator, idx, i int) (T, bool), self func(celast.Expr) func(*Evaluator, int) (T, bool),
	calls func(overload string, args []celast.Expr) func(*Evaluator, int) (T, bool)) func(*Evaluator, int) (T, bool) {
	if kindOf(c.ast, e) != kind {
		return nil
	}
	if e.Kind() == celast.LiteralKind {
		if v, ok := literal(e.AsLiteral()); ok {
			return func(*Evaluator, int) (T, bool) { return v, true }
		}
		return nil
	}
	if idx := c.column(e); idx >= 0 {
		return func(ev *Evaluator, i int) (T, bool) { return read(ev, idx, i) }
	}
	overload, args, ok := c.call(e)
	switch {
	case !ok:
		return nil
	case overload == "conditional" && len(args) == 3:
		return choose(c.boolean(args[0]), self(args[1]), self(args[2]))
	}
	return calls(overload, args)
}

// literalStr, literalInt and literalBool convert a literal of their type.
func literalStr(v ref.Val) (string, bool) { s, ok := v.(types.String); return string(s), ok }
func literalInt(v ref.Val) (int64, bool)  { n, ok := v.(types.Int); return int64(n), ok }
func literalBool(v ref.Val) (bool, bool)  { b, ok := v.(types.Bool); return bool(b), ok }

// readStr, readInt and readBool read row i of column idx; ok is false for
// a null (or a column of another type, which the checker rules out).
func readStr(ev *Evaluator, idx, i int) (string, bool) {
	if col := ev.strs[idx]; col != nil && !col.IsNull(i) {
		return col.Value(i), true
	}
	return "", false
}

func readInt(ev *Evaluator, idx, i int) (int64, bool) {
	if col := ev.ints[idx]; col != nil && !col.IsNull(i) {
		return col.Value(i), true
	}
	return 0, false
}

func readBool(ev *Evaluator, idx, i int) (bool, bool) {
	if col := ev.bools[idx]; col != nil && !col.IsNull(i) {
		return col.Value(i), true
	}
	return false, false
}

// column returns the column a field reference reads, or -1.
func (c *fastCompiler) column(e celast.Expr) int {
	ref, found := c.ast.ReferenceMap()[e.ID()]
	if !found || ref.Value != nil || len(ref.OverloadIDs) > 0 {
		return -1
	}
	if idx, ok := c.env.cols[ref.Name]; ok {
		return idx
	}
	return -1
}

func (c *fastCompiler) str(e celast.Expr) strFunc {
	return node(c, e, types.StringKind, literalStr, readStr, c.str, c.strCall)
}

func (c *fastCompiler) strCall(overload string, args []celast.Expr) strFunc {
	switch conv := caseMap(overload); {
	case overload == "add_string" && len(args) == 2:
		return build(c.appendCall(overload, args))
	case conv != nil && len(args) == 1:
		if inner, _, ok := c.call(args[0]); ok && inner == "add_string" {
			return build(c.appendCall(overload, args)) // lowerAscii(a + "." + b)
		}
		return unary(c.str(args[0]), conv)
	}
	return nil
}

func (c *fastCompiler) integer(e celast.Expr) intFunc {
	return node(c, e, types.IntKind, literalInt, readInt, c.integer, c.intCall)
}

func (c *fastCompiler) intCall(overload string, args []celast.Expr) intFunc {
	if (overload == "size_string" || overload == "string_size") && len(args) == 1 {
		// CEL's size of a string counts code points.
		return unary(c.str(args[0]), func(s string) int64 { return int64(utf8.RuneCountInString(s)) })
	}
	return nil
}

func (c *fastCompiler) boolean(e celast.Expr) boolFunc {
	return node(c, e, types.BoolKind, literalBool, readBool, c.boolean, c.boolCall)
}

func (c *fastCompiler) boolCall(overload string, args []celast.Expr) boolFunc {
	switch {
	case overload == "logical_not" && len(args) == 1:
		return unary(c.boolean(args[0]), func(b bool) bool { return !b })
	case (overload == "logical_and" || overload == "logical_or") && len(args) == 2:
		// CEL's && and || absorb an error on either side when the other
		// side decides; this subset has no errors, only nulls, which go
		// to CEL, so plain short-circuiting gives the same answer.
		l, r := c.boolean(args[0]), c.boolean(args[1])
		if l == nil || r == nil {
			return nil
		}
		decides := overload == "logical_or"
		return func(ev *Evaluator, i int) (bool, bool) {
			a, ok := l(ev, i)
			if ok && a == decides {
				return a, true
			}
			b, okb := r(ev, i)
			if okb && b == decides {
				return b, true
			}
			return b, ok && okb
		}
	case overload == "in_list" && len(args) == 2:
		return c.in(args[0], args[1])
	case len(args) == 2:
		return c.compare(overload, args[0], args[1])
	}
	return nil
}

// in is `s in [literal strings]`.
func (c *fastCompiler) in(elem, list celast.Expr) boolFunc {
	s := c.str(elem)
	if s == nil || list.Kind() != celast.ListKind {
		return nil
	}
	var set []string
	for _, x := range list.AsList().Elements() {
		lit, ok := x.AsLiteral().(types.String)
		if x.Kind() != celast.LiteralKind || !ok {
			return nil
		}
		set = append(set, string(lit))
	}
	return func(ev *Evaluator, i int) (bool, bool) {
		v, ok := s(ev, i)
		for _, m := range set {
			if v == m {
				return true, ok
			}
		}
		return false, ok
	}
}

// compare is ==, != (strings, bools, ints) and <, <=, >, >= (strings,
// ints). Strings compare by bytes, as CEL's do.
func (c *fastCompiler) compare(overload string, l, r celast.Expr) boolFunc {
	var test func(cmp int) bool
	switch overload {
	case "equals":
		test = func(cmp int) bool { return cmp == 0 }
	case "not_equals":
		test = func(cmp int) bool { return cmp != 0 }
	case "less_string", "less_int64":
		test = func(cmp int) bool { return cmp < 0 }
	case "less_equals_string", "less_equals_int64":
		test = func(cmp int) bool { return cmp <= 0 }
	case "greater_string", "greater_int64":
		test = func(cmp int) bool { return cmp > 0 }
	case "greater_equals_string", "greater_equals_int64":
		test = func(cmp int) bool { return cmp >= 0 }
	default:
		return nil
	}
	kind := kindOf(c.ast, l)
	if kindOf(c.ast, r) != kind {
		return nil
	}
	ordered := overload != "equals" && overload != "not_equals"
	switch kind {
	case types.StringKind:
		return compareWith(c.str(l), c.str(r), strings.Compare, test)
	case types.IntKind:
		return compareWith(c.integer(l), c.integer(r), func(a, b int64) int {
			switch {
			case a < b:
				return -1
			case a > b:
				return 1
			}
			return 0
		}, test)
	case types.BoolKind:
		if ordered {
			return nil
		}
		return compareWith(c.boolean(l), c.boolean(r), func(a, b bool) int {
			if a == b {
				return 0
			}
			return 1
		}, test)
	}
	return nil
}

func compareWith[T any](l, r func(*Evaluator, int) (T, bool), cmp func(a, b T) int, test func(int) bool) boolFunc {
	if l == nil || r == nil {
		return nil
	}
	return func(ev *Evaluator, i int) (bool, bool) {
		a, ok := l(ev, i)
		if !ok {
			return false, false
		}
		b, ok := r(ev, i)
		return test(cmp(a, b)), ok
	}
}

// unary applies op to an operand.
func unary[A, R any](arg func(*Evaluator, int) (A, bool), op func(A) R) func(*Evaluator, int) (R, bool) {
	if arg == nil {
		return nil
	}
	return func(ev *Evaluator, i int) (R, bool) {
		a, ok := arg(ev, i)
		return op(a), ok
	}
}

// choose is cond ? yes : no.
func choose[T any](cond boolFunc, yes, no func(*Evaluator, int) (T, bool)) func(*Evaluator, int) (T, bool) {
	if cond == nil || yes == nil || no == nil {
		return nil
	}
	return func(ev *Evaluator, i int) (T, bool) {
		c, ok := cond(ev, i)
		if !ok {
			var zero T
			return zero, false
		}
		if c {
			return yes(ev, i)
		}
		return no(ev, i)
	}
}
