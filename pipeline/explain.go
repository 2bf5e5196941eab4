package pipeline

import (
	"context"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/idsync/idsync/connectors"
	"github.com/idsync/idsync/pipeline/diff"
	"github.com/idsync/idsync/pipeline/plan"
	"github.com/idsync/idsync/rules"
	"github.com/idsync/idsync/snapshots"
)

// Explanation answers "why does this identity (not) have an account?" for
// one target: the record, every rule's result with the fields it read, the
// match, the stored state, and the ops a run would send.
type Explanation struct {
	Target, Key, Source, File string
	// Lines are where the key appears in the source (more than one is a
	// duplicate); empty when it does not appear.
	Lines []int64
	// Record is the record's fields, in schema order.
	Record []Field
	// Rejected is why the source could not read the record, if it could not.
	Rejected string
	Rules    []RuleResult
	Match    *MatchResult
	Stored   *snapshots.Entry
	// StoredAttrs are the attributes idsync last wrote.
	StoredAttrs connectors.Attrs
	Escrow      *snapshots.Escrow
	Quarantine  string
	// Ops are what a run would send for this identity now.
	Ops []plan.Op
	// Sensitive attributes are never printed.
	Sensitive []string
	// Verdict is the answer in one sentence.
	Verdict string
}

// Field is one record field.
type Field struct {
	Name  string
	Value any
}

// RuleResult is one rule evaluated on the record.
type RuleResult struct {
	Name, Text string
	Value      any
	Err        string
	Reads      []Field
	// Skipped is set when the rule was not needed (out of scope).
	Skipped bool
}

// MatchResult is what the match attribute found in the target.
type MatchResult struct {
	Attr  string
	Value any
	Found []string // ids, with "(linked to KEY)" where another identity owns one
}

// Explain evaluates one identity for one target without changing anything.
func (e *Engine) Explain(ctx context.Context, targetName, key string) (*Explanation, error) {
	t := e.findTarget(targetName)
	if t == nil {
		return nil, fmt.Errorf("no target %q in the config", targetName)
	}
	s := e.c.source(t.cfg.Source)
	x := &Explanation{Target: targetName, Key: key, Source: s.cfg.Name, File: s.cfg.Path}
	for _, a := range t.cfg.Attributes {
		if a.Sensitive {
			x.Sensitive = append(x.Sensitive, a.Name)
		}
	}
	var desired *diff.Desired
	src, err := openSource(s, false, func(re *connectors.RecordError) {
		if re.Key == key {
			x.Lines = append(x.Lines, int64(re.Line))
			x.Rejected = re.Error()
		}
	}, nil)
	if err != nil {
		return nil, err
	}
	ev := s.env.NewEvaluator(e.opts.Now)
	err = src.Read(ctx, func(b arrow.RecordBatch) error {
		keys := b.Column(s.keyCol).(*array.String)
		pos := b.Column(len(s.columns)).(*array.Int64)
		for i := range int(b.NumRows()) {
			if keys.Value(i) != key {
				continue
			}
			x.Lines = append(x.Lines, pos.Value(i))
			if len(x.Lines) > 1 {
				continue
			}
			if err := ev.Bind(b); err != nil {
				return err
			}
			for _, f := range s.env.Fields() {
				x.Record = append(x.Record, Field{Name: f, Value: ev.Field(f, i)})
			}
			x.Rules = explainRules(t, ev, i)
			d, err := evaluate(t, ev, nil, i, key)
			if err == nil {
				desired = &d
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", s.cfg.Name, err)
	}
	if err := e.explainState(ctx, t, x); err != nil {
		return nil, err
	}
	e.explainOps(ctx, t, x, desired)
	return x, nil
}

// explainRules evaluates each rule on its own, so a failing one is named
// and the others still show.
func explainRules(t *target, ev *rules.Evaluator, i int) []RuleResult {
	inScope := true
	var out []RuleResult
	add := func(p *rules.Program, skip bool) {
		if p == nil {
			return
		}
		r := RuleResult{Name: p.Name, Text: p.Text, Skipped: skip}
		for _, f := range p.Reads {
			r.Reads = append(r.Reads, Field{Name: f, Value: ev.Field(f, i)})
		}
		if !skip {
			v, err := ev.Eval(p, i)
			r.Value = v
			if err != nil {
				r.Err = err.Error()
			}
		}
		out = append(out, r)
	}
	if t.scope != nil {
		add(t.scope, false)
		inScope, _ = out[0].Value.(bool)
	}
	for _, p := range append([]*rules.Program{t.enabled, t.groups}, t.attrs...) {
		add(p, !inScope)
	}
	return out
}

func (e *Engine) explainState(ctx context.Context, t *target, x *Explanation) error {
	name := t.cfg.Name
	if en, ok, err := e.store.Get(name, x.Key); err != nil {
		return err
	} else if ok {
		if en.Groups, err = e.store.Groups(name, x.Key); err != nil {
			return err
		}
		x.Stored = &en
		if x.StoredAttrs, _, err = decodeState(en.Attrs); err != nil {
			return err
		}
	}
	if es, ok, err := e.store.GetEscrow(name, x.Key); err != nil {
		return err
	} else if ok {
		x.Escrow = &es
	}
	if q, ok, err := e.store.Quarantine(name); err != nil {
		return err
	} else if ok && q.Until > e.opts.Now.Unix() {
		x.Quarantine = q.Reason
	}
	return nil
}

// explainOps works out what a run would do, and says why in one sentence.
func (e *Engine) explainOps(ctx context.Context, t *target, x *Explanation, d *diff.Desired) {
	var stored *diff.Stored
	if x.Stored != nil {
		stored, _ = e.stored(t.cfg.Name, x.Key)
	}
	var failed []string
	for _, r := range x.Rules {
		if r.Err != "" {
			failed = append(failed, fmt.Sprintf("rule %s failed: %s", r.Name, r.Err))
		}
	}
	switch {
	case len(x.Lines) > 1:
		x.Verdict = fmt.Sprintf("quarantined: the key appears on lines %s; every copy is left alone until the source is fixed", joinLines(x.Lines))
		return
	case x.Rejected != "":
		x.Verdict = "quarantined: the source record cannot be read: " + x.Rejected
		return
	case len(failed) > 0:
		x.Verdict = "quarantined: " + strings.Join(failed, "; ")
		return
	case len(x.Lines) == 0 && stored == nil:
		x.Verdict = "not in the source and no object in the target: nothing to do"
		return
	case len(x.Lines) == 0:
		x.Ops = planOps(diff.Absent(t.policy, x.Key, stored, diff.ReasonAbsent), nil)
		x.Verdict = "not in the source: its object is deprovisioned (" + t.cfg.Deprovision + ")"
	default:
		tr := &targetRun{t: t}
		tr.pinUnique(d, stored)
		x.Ops = planOps(diff.Present(t.policy, *d, stored), d.Map(t.policy))
		x.Verdict = verdict(d, stored, len(x.Ops))
		if d.InScope && stored == nil && t.match >= 0 {
			x.Match = e.explainMatch(ctx, t, d)
		}
	}
	if x.Quarantine != "" {
		x.Verdict += "; but the target is quarantined (" + x.Quarantine + "), so nothing is sent until it recovers"
	}
	if x.Escrow != nil && len(x.Ops) > 0 {
		x.Verdict += fmt.Sprintf("; an earlier try failed (%s) and is in escrow", x.Escrow.Error)
	}
}

func planOps(ops []connectors.Op, desired connectors.Attrs) []plan.Op {
	out := make([]plan.Op, len(ops))
	for i, op := range ops {
		out[i] = plan.NewOp(op, nil)
		if op.Action == connectors.Update {
			out[i] = plan.NewOp(op, desired)
		}
	}
	return out
}

func verdict(d *diff.Desired, stored *diff.Stored, ops int) string {
	switch {
	case !d.InScope && stored == nil:
		return "out of scope (the scope rule is false), and no object exists: no account"
	case !d.InScope:
		return "out of scope (the scope rule is false): its object is deprovisioned"
	case stored == nil && !d.Enabled:
		return "in scope: an account is created, disabled until the enabled rule is true"
	case stored == nil:
		return "in scope with no object yet: an account is created (or adopted, if match finds one)"
	case ops == 0:
		return "in scope and already as the rules say: nothing to do"
	}
	return "in scope: its object is brought in line with the rules"
}

func (e *Engine) explainMatch(ctx context.Context, t *target, d *diff.Desired) *MatchResult {
	attr := t.policy.Attrs[t.match].Name
	m := &MatchResult{Attr: attr, Value: d.Map(t.policy)[attr]}
	conn, err := e.target(ctx, t)
	if err != nil {
		m.Found = []string{"(target unreachable: " + err.Error() + ")"}
		return m
	}
	matcher, ok := conn.(connectors.Matcher)
	if !ok || m.Value == nil {
		return m
	}
	objs, err := matcher.Match(ctx, attr, m.Value)
	if err != nil {
		m.Found = []string{"(lookup failed: " + err.Error() + ")"}
	}
	for _, o := range objs {
		s := o.ID
		if owner, ok, _ := e.store.KeyForID(t.cfg.Name, o.ID); ok {
			s += " (linked to " + owner + ")"
		}
		m.Found = append(m.Found, s)
	}
	return m
}

// ExplainPlan is the plan that applies only x's ops, for explain --apply.
func (e *Engine) ExplainPlan(x *Explanation) (*plan.Plan, error) {
	serial, err := e.store.Serial(x.Target)
	if err != nil {
		return nil, err
	}
	return &plan.Plan{Version: plan.Version, Now: e.opts.Now,
		Targets: []*plan.Target{{Name: x.Target, Serial: serial, Ops: x.Ops}}}, nil
}
