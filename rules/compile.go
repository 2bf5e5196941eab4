package rules

import (
	"fmt"
	"slices"
	"strings"

	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
)

// Kind is what a rule must yield.
type Kind uint8

const (
	// BoolRule must yield a bool (scope).
	BoolRule Kind = iota + 1
	// ValueRule must yield an attribute value: string, bool, int, double,
	// timestamp, list of strings, or null.
	ValueRule
	// ListRule must yield a list of strings (group names).
	ListRule
)

// Expr is one rule to compile.
type Expr struct {
	// Name identifies the rule in messages ("scope", "attributes.mail").
	Name string
	Text string
	Kind Kind
}

// Issue is one problem with one rule. Line and Column are 1-based and
// relative to the rule text; the caller maps them into its file.
type Issue struct {
	Rule    string
	Line    int
	Column  int
	Message string
}

func (i Issue) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", i.Rule, i.Line, i.Column, i.Message)
}

// Program is a compiled, cost-checked rule.
type Program struct {
	Name string
	Text string
	prg  cel.Program
	// UsesNow is true when the rule reads the clock: its result can change
	// with no change to the record, so results must not be cached on the
	// record's hash alone.
	UsesNow bool
	// Limited is true when the rule's cost could not be bounded statically,
	// so it runs with runtime cost tracking.
	Limited bool
	// MaxCost is the static worst-case cost estimate.
	MaxCost uint64
	// Unique is true when the rule is a call to selectUnique: it yields
	// candidates, and the engine picks the first free one.
	Unique bool
	// Reads lists the record fields the rule reads (user.status), sorted;
	// explain shows their values next to the rule's result.
	Reads []string
	// Yields is the type of value the rule produces, when the checker knows
	// it: "string", "bool", "int", "double", "timestamp" or "list" (of
	// strings); "" for dyn or null. Targets without types (SQLite) use it
	// to read back what they store.
	Yields string
	// field is the column of a rule that is one field and nothing else
	// (user.surname), which Eval reads without running CEL; -1 otherwise.
	// Such copies are half the attributes of a typical policy, and CEL
	// spends most of their time on setting up the evaluation.
	field int
	// fast is the rule compiled to Go when it is in the common subset
	// (see compileFast); nil otherwise.
	fast fastFunc
	// memo is one plus the slot where an Evaluator keeps this rule's
	// result for the row it last ran on, when another program has the same
	// text; 0 when none does. Targets fed by one source share many rules
	// (a department copied to three targets), and a row is evaluated for
	// every target in turn: the second target gets the first one's value,
	// and the same boxed string, which a first plan then keeps once.
	memo int
}

// Compile type-checks and cost-checks every rule and returns all problems
// at once, so an operator fixes a policy in one round. Programs are
// returned in input order; entries for rules with issues are nil.
func (e *Env) Compile(exprs []Expr) ([]*Program, []Issue) {
	progs := make([]*Program, len(exprs))
	var issues []Issue
	for i, x := range exprs {
		p, iss := e.compile(x)
		e.share(p)
		progs[i] = p
		issues = append(issues, iss...)
	}
	return progs, issues
}

func (e *Env) compile(x Expr) (*Program, []Issue) {
	ast, iss := e.cel.Compile(x.Text)
	if iss != nil && iss.Err() != nil {
		out := make([]Issue, 0, len(iss.Errors()))
		for _, ce := range iss.Errors() {
			// CEL gives -1 for "no location" (an empty rule, say): point at
			// the rule's start rather than at column 0.
			out = append(out, Issue{Rule: x.Name, Line: max(ce.Location.Line(), 1), Column: max(ce.Location.Column()+1, 1), Message: ce.Message})
		}
		return nil, out
	}
	at := func(msg string, args ...any) []Issue {
		return []Issue{{Rule: x.Name, Line: 1, Column: 1, Message: fmt.Sprintf(msg, args...)}}
	}
	if err := checkOutput(x.Kind, ast.OutputType()); err != nil {
		return nil, at("%v", err)
	}
	est, err := e.cel.EstimateCost(ast, estimator{prefix: e.opts.Prefix, maxBytes: e.opts.MaxStringBytes})
	if err != nil {
		return nil, at("cost estimate: %v", err)
	}
	p := &Program{Name: x.Name, Text: x.Text, MaxCost: est.Max, field: -1}
	opts := []cel.ProgramOption{cel.EvalOptions(cel.OptOptimize)}
	switch {
	case unbounded(est):
		p.Limited = true
		opts = append(opts, cel.CostLimit(RuntimeCostLimit))
	case est.Max > CostBudget:
		return nil, at("estimated worst-case cost %d exceeds the budget of %d; simplify the rule", est.Max, CostBudget)
	}
	prg, err := e.cel.Program(ast, opts...)
	if err != nil {
		return nil, at("%v", err)
	}
	p.prg = prg
	root := ast.NativeRep().Expr()
	p.Unique = root.Kind() == celast.CallKind && root.AsCall().FunctionName() == UniqueFunc
	p.Yields = yields(ast.OutputType())
	if p.Unique {
		p.Yields = "string" // one of the candidates
	}
	if !p.Unique && strings.Contains(x.Text, UniqueFunc) {
		return nil, at("%s must be the whole expression of an attribute", UniqueFunc)
	}
	if !p.Limited {
		p.fast = e.compileFast(ast.NativeRep())
	}
	if ref, ok := ast.NativeRep().ReferenceMap()[root.ID()]; ok && ref.Value == nil {
		if idx, ok := e.cols[ref.Name]; ok {
			p.field = idx
		}
	}
	for _, ref := range ast.NativeRep().ReferenceMap() {
		if ref.Name == NowVar {
			p.UsesNow = true
		}
		if _, ok := e.cols[ref.Name]; ok && !slices.Contains(p.Reads, ref.Name) {
			p.Reads = append(p.Reads, ref.Name)
		}
	}
	slices.Sort(p.Reads)
	return p, nil
}

func yields(t *cel.Type) string {
	for name, ty := range map[string]*cel.Type{"string": cel.StringType, "bool": cel.BoolType, "int": cel.IntType,
		"double": cel.DoubleType, "timestamp": cel.TimestampType, "list": cel.ListType(cel.StringType)} {
		if t.IsExactType(ty) {
			return name
		}
	}
	return ""
}

func checkOutput(k Kind, t *cel.Type) error {
	if t.IsExactType(types.DynType) {
		return nil // checked again at evaluation time
	}
	switch k {
	case BoolRule:
		if !t.IsExactType(types.BoolType) {
			return fmt.Errorf("must yield a bool, but yields %s", t)
		}
		return nil
	case ListRule:
		if !t.IsExactType(cel.ListType(cel.StringType)) {
			return fmt.Errorf("must yield a list(string), but yields %s", t)
		}
		return nil
	}
	for _, ok := range []*cel.Type{cel.StringType, cel.BoolType, cel.IntType, cel.DoubleType,
		cel.TimestampType, cel.NullType, cel.ListType(cel.StringType)} {
		if t.IsExactType(ok) {
			return nil
		}
	}
	return fmt.Errorf("must yield a string, bool, int, double, timestamp, list(string) or null, but yields %s", t)
}
