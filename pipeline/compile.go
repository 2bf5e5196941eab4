package pipeline

import (
	"fmt"

	"github.com/cespare/xxhash/v2"

	"github.com/idsync/idsync/connectors/batch"
	"github.com/idsync/idsync/pipeline/config"
	"github.com/idsync/idsync/pipeline/diff"
	"github.com/idsync/idsync/rules"
)

// source is a config source with its schema and the targets it feeds.
type source struct {
	cfg     *config.Source
	columns []batch.Column
	env     *rules.Env
	keyCol  int
	targets []*target
}

// target is a config target with its compiled policy.
type target struct {
	cfg    *config.Target
	scope  *rules.Program // nil: every identity is in scope
	attrs  []*rules.Program
	policy diff.Policy
	// version fingerprints everything in the policy that shapes desired
	// state; a change re-evaluates every record.
	version uint64
	// usesNow disables the unchanged-record skip: a clock-reading rule can
	// change its result with no change to the record.
	usesNow bool
	// match is the index in attrs of the match attribute, or -1.
	match int
}

// compiled is a config whose rules all compiled.
type compiled struct {
	cfg     *config.Config
	sources []*source
}

// compile builds every source's rule environment and compiles every
// target's rules, returning all problems at once as config.Errors with the
// file position of each.
func compile(cfg *config.Config) (*compiled, error) {
	c := &compiled{cfg: cfg}
	var errs config.Errors
	for _, sc := range cfg.Sources {
		s := &source{cfg: sc}
		for i, col := range sc.Columns {
			t, _ := batch.ParseType(col.Type) // validated by config
			s.columns = append(s.columns, batch.Column{Name: col.Name, Type: t})
			if col.Name == sc.Key {
				s.keyCol = i
			}
		}
		maxField := sc.MaxFieldBytes
		if maxField <= 0 {
			maxField = batch.DefaultMaxFieldBytes
		}
		env, err := rules.NewEnv(batch.Schema(s.columns, true), rules.Options{MaxStringBytes: uint64(maxField)})
		if err != nil {
			errs = append(errs, &config.Error{File: cfg.File, Line: sc.Line, Msg: fmt.Sprintf("source %s: %v", sc.Name, err)})
			continue
		}
		s.env = env
		c.sources = append(c.sources, s)
	}
	for _, tc := range cfg.Targets {
		s := c.source(tc.Source)
		if s == nil {
			continue // reported by config validation
		}
		t, terrs := compileTarget(cfg.File, s.env, tc)
		errs = append(errs, terrs...)
		if t != nil {
			s.targets = append(s.targets, t)
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return c, nil
}

func (c *compiled) source(name string) *source {
	for _, s := range c.sources {
		if s.cfg.Name == name {
			return s
		}
	}
	return nil
}

func compileTarget(file string, env *rules.Env, tc *config.Target) (*target, config.Errors) {
	var exprs []rules.Expr
	var at []config.Rule
	if tc.Scope.Text != "" {
		exprs = append(exprs, rules.Expr{Name: "scope", Text: tc.Scope.Text, Kind: rules.BoolRule})
		at = append(at, tc.Scope)
	}
	for _, a := range tc.Attributes {
		exprs = append(exprs, rules.Expr{Name: "attributes." + a.Name, Text: a.Rule.Text, Kind: rules.ValueRule})
		at = append(at, a.Rule)
	}
	progs, issues := env.Compile(exprs)
	var errs config.Errors
	for _, is := range issues {
		for i, x := range exprs {
			if x.Name == is.Rule {
				line, col := at[i].Position(is.Line, is.Column)
				errs = append(errs, &config.Error{File: file, Line: line,
					Msg: fmt.Sprintf("col %d: target %s %s: %s", col, tc.Name, is.Rule, is.Message)})
			}
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	dep, _ := diff.ParseDeprovision(tc.Deprovision) // validated by config
	t := &target{cfg: tc, policy: diff.Policy{Deprovision: dep}, match: -1}
	if tc.Scope.Text != "" {
		t.scope, progs = progs[0], progs[1:]
	}
	t.attrs = progs
	h := xxhash.New() // writes to a hash never fail
	fmt.Fprintf(h, "scope=%q deprovision=%q\n", tc.Scope.Text, tc.Deprovision)
	for i, a := range tc.Attributes {
		t.policy.Attrs = append(t.policy.Attrs, diff.AttrPolicy{Name: a.Name, IgnoreCase: a.IgnoreCase, ClearOnNull: a.ClearOnNull})
		fmt.Fprintf(h, "attr %q=%q ic=%v con=%v\n", a.Name, a.Rule.Text, a.IgnoreCase, a.ClearOnNull)
		if a.Name == tc.Match {
			t.match = i
		}
	}
	t.version = h.Sum64()
	for _, p := range append(t.attrs, t.scope) {
		if p != nil && p.UsesNow {
			t.usesNow = true
		}
	}
	return t, nil
}
