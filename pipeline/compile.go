package pipeline

import (
	"fmt"
	"slices"
	"strings"

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
	cfg     *config.Target
	scope   *rules.Program // nil: every identity is in scope
	enabled *rules.Program // nil: every in-scope identity is active
	groups  *rules.Program // nil: the target's groups are not managed
	// attrs are the attribute then reference rules, aligned with
	// policy.Attrs; defaults holds each one's value for null, or nil.
	attrs    []*rules.Program
	defaults []any
	policy   diff.Policy
	// version fingerprints everything in the policy that shapes desired
	// state; a change re-evaluates every record.
	version uint64
	// usesNow disables the unchanged-record skip: a clock-reading rule can
	// change its result with no change to the record.
	usesNow bool
	// match is the index in attrs of the match attribute, or -1.
	match int
	// unique indexes the attrs whose rule is selectUnique(...).
	unique []int
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
		env, err := rules.NewEnv(batch.Schema(s.columns, true), rules.Options{MaxStringBytes: uint64(maxField), RandomSalt: []byte(cfg.RandomSalt)})
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
	add := func(name string, r config.Rule, kind rules.Kind) {
		exprs = append(exprs, rules.Expr{Name: name, Text: r.Text, Kind: kind})
		at = append(at, r)
	}
	for _, x := range []struct {
		name string
		rule config.Rule
		kind rules.Kind
	}{{"scope", tc.Scope, rules.BoolRule}, {"enabled", tc.Enabled, rules.BoolRule}, {"groups", tc.Groups, rules.ListRule}} {
		if x.rule.Text != "" {
			add(x.name, x.rule, x.kind)
		}
	}
	for _, a := range tc.Attributes {
		add("attributes."+a.Name, a.Rule, rules.ValueRule)
	}
	for _, a := range tc.References {
		add("references."+a.Name, a.Rule, rules.ValueRule)
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
	t := &target{cfg: tc, policy: diff.Policy{Deprovision: dep, Groups: tc.Groups.Text != ""}, match: -1}
	for len(progs) > 0 && !strings.HasPrefix(progs[0].Name, "attributes.") && !strings.HasPrefix(progs[0].Name, "references.") {
		switch progs[0].Name {
		case "scope":
			t.scope = progs[0]
		case "enabled":
			t.enabled = progs[0]
		case "groups":
			t.groups = progs[0]
		}
		progs = progs[1:]
	}
	t.attrs = progs
	h := xxhash.New() // writes to a hash never fail
	fmt.Fprintf(h, "scope=%q enabled=%q groups=%q deprovision=%q\n", tc.Scope.Text, tc.Enabled.Text, tc.Groups.Text, tc.Deprovision)
	for i, a := range append(slices.Clone(tc.Attributes), tc.References...) {
		ref := i >= len(tc.Attributes)
		t.policy.Attrs = append(t.policy.Attrs, diff.AttrPolicy{Name: a.Name, IgnoreCase: a.IgnoreCase,
			ClearOnNull: a.ClearOnNull, CreateOnly: a.CreateOnly, Reference: ref})
		t.defaults = append(t.defaults, a.Default)
		fmt.Fprintf(h, "attr %q=%q ic=%v con=%v co=%v ref=%v default=%#v\n", a.Name, a.Rule.Text, a.IgnoreCase, a.ClearOnNull, a.CreateOnly, ref, a.Default)
		if a.Name == tc.Match {
			t.match = i
		}
	}
	t.version = h.Sum64()
	for i, p := range t.attrs {
		if !p.Unique {
			continue
		}
		if t.policy.Attrs[i].Reference || i == t.match {
			return nil, config.Errors{&config.Error{File: file, Line: tc.Line,
				Msg: fmt.Sprintf("target %s: %s cannot use selectUnique: it is the match attribute or a reference", tc.Name, t.policy.Attrs[i].Name)}}
		}
		t.unique = append(t.unique, i)
	}
	for _, p := range append(slices.Clone(t.attrs), t.scope, t.enabled, t.groups) {
		if p != nil && p.UsesNow {
			t.usesNow = true
		}
	}
	return t, nil
}
