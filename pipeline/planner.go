package pipeline

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/idsync/idsync/connectors"
	"github.com/idsync/idsync/pipeline/diff"
	"github.com/idsync/idsync/pipeline/plan"
	"github.com/idsync/idsync/rules"
	"github.com/idsync/idsync/snapshots"
)

// indexEntry is what planning keeps in memory per managed object: enough to
// skip unchanged records and to deprovision absent ones without reading
// their attributes.
type indexEntry struct {
	hash     uint64
	id       string
	disabled bool
}

// targetRun is one target's planning state during a source read.
type targetRun struct {
	t       *target
	index   map[string]indexEntry
	out     *plan.Target
	matcher connectors.Matcher
	// failed holds keys whose rules failed: no ops, and never "absent".
	failed map[string]bool
	// claimed maps target ids adopted in this run to the key adopting them,
	// so two identities never adopt the same object.
	claimed map[string]string
	// toMatch indexes the creates in out.Ops still to be matched.
	toMatch []int
}

// sourceRun is one source read.
type sourceRun struct {
	s       *source
	runs    []*targetRun
	seen    map[string]int64   // key -> first line
	dups    map[string][]int64 // key -> every line it appears on
	unkeyed int                // rejected records whose key is unknown
	rejects []plan.Reject
}

// Plan reads every source once, evaluates each target's rules and diffs
// against stored state. It changes nothing, but it may query targets
// (read-only) to find objects to adopt.
func (e *Engine) Plan(ctx context.Context) (*plan.Plan, error) {
	p := &plan.Plan{Version: plan.Version, Now: e.opts.Now, Full: true}
	for _, s := range e.c.sources {
		if len(s.targets) == 0 {
			continue
		}
		sr, err := e.planSource(ctx, s)
		if err != nil {
			return nil, err
		}
		p.Rejects = append(p.Rejects, sr.rejects...)
		for _, tr := range sr.runs {
			p.Targets = append(p.Targets, tr.out)
		}
	}
	slices.SortStableFunc(p.Rejects, func(a, b plan.Reject) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Target, b.Target))
	})
	return p, nil
}

func (e *Engine) planSource(ctx context.Context, s *source) (*sourceRun, error) {
	sr := &sourceRun{s: s, seen: map[string]int64{}, dups: map[string][]int64{}}
	for _, t := range s.targets {
		tr, err := e.startTarget(ctx, t)
		if err != nil {
			return nil, err
		}
		sr.runs = append(sr.runs, tr)
	}
	src, err := openSource(s, sr.reject)
	if err != nil {
		return nil, err
	}
	ev := s.env.NewEvaluator(e.opts.Now)
	var h rowHasher
	err = src.Read(ctx, func(b arrow.RecordBatch) error {
		if err := ev.Bind(b); err != nil {
			return err
		}
		h.bind(b, len(s.columns))
		keys := b.Column(s.keyCol).(*array.String)
		pos := b.Column(len(s.columns)).(*array.Int64)
		for i := range int(b.NumRows()) {
			// Clone: Arrow strings alias the batch, which is released soon.
			key := strings.Clone(keys.Value(i))
			if !sr.occurs(key, pos.Value(i)) {
				continue
			}
			rh := h.hash(i)
			for _, tr := range sr.runs {
				if err := e.planRow(ctx, sr, tr, ev, i, key, pos.Value(i), rh); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", s.cfg.Name, err)
	}
	for key, lines := range sr.dups {
		sr.rejects = append(sr.rejects, plan.Reject{Source: s.cfg.Name, File: s.cfg.Path, Line: int(lines[0]), Key: key,
			Reason: fmt.Sprintf("duplicate key on lines %s; every copy quarantined", joinLines(lines))})
	}
	for _, tr := range sr.runs {
		if err := e.resolveMatches(ctx, sr, tr); err != nil {
			return nil, err
		}
		sr.finish(tr)
	}
	return sr, nil
}

func (e *Engine) startTarget(ctx context.Context, t *target) (*targetRun, error) {
	tr := &targetRun{t: t, index: map[string]indexEntry{}, failed: map[string]bool{}, claimed: map[string]string{},
		out: &plan.Target{Name: t.cfg.Name}}
	serial, err := e.store.Serial(t.cfg.Name)
	if err != nil {
		return nil, err
	}
	tr.out.Serial = serial
	err = e.store.Scan(t.cfg.Name, false, func(en snapshots.Entry) error {
		tr.index[en.Key] = indexEntry{hash: en.Hash, id: en.ID, disabled: en.Disabled}
		return nil
	})
	if err != nil {
		return nil, err
	}
	tr.out.Managed = len(tr.index)
	if t.match >= 0 {
		conn, err := e.target(ctx, t)
		if err != nil {
			return nil, err
		}
		tr.matcher, _ = conn.(connectors.Matcher)
	}
	return tr, nil
}

// reject records a bad input record. A record whose key is known still
// "occurs", so its object is neither touched nor treated as absent.
func (sr *sourceRun) reject(re *connectors.RecordError) {
	sr.rejects = append(sr.rejects, plan.Reject{Source: sr.s.cfg.Name, File: re.File, Line: re.Line,
		Column: re.Column, Field: re.Field, Key: re.Key, Reason: re.Reason})
	if strings.TrimSpace(re.Key) == "" {
		sr.unkeyed++
		return
	}
	if sr.occurs(strings.Clone(re.Key), int64(re.Line)) {
		for _, tr := range sr.runs {
			tr.failed[re.Key] = true
		}
	}
}

// occurs notes one appearance of key and reports whether it is the first.
func (sr *sourceRun) occurs(key string, line int64) bool {
	first, dup := sr.seen[key]
	if !dup {
		sr.seen[key] = line
		return true
	}
	if len(sr.dups[key]) == 0 {
		sr.dups[key] = []int64{first}
	}
	sr.dups[key] = append(sr.dups[key], line)
	return false
}

// planRow evaluates one record for one target and queues its ops.
func (e *Engine) planRow(ctx context.Context, sr *sourceRun, tr *targetRun, ev *rules.Evaluator, i int, key string, line int64, rowHash uint64) error {
	t := tr.t
	h := combine(rowHash, t.version)
	ie, managed := tr.index[key]
	if managed && ie.hash == h && !t.usesNow {
		return nil // same record, same policy: same result
	}
	fail := func(rule string, err error) error {
		sr.rejects = append(sr.rejects, plan.Reject{Source: sr.s.cfg.Name, Target: t.cfg.Name, Rule: rule,
			File: sr.s.cfg.Path, Line: int(line), Key: key, Reason: err.Error()})
		tr.failed[key] = true
		return nil
	}
	inScope := true
	if t.scope != nil {
		var err error
		if inScope, err = ev.EvalBool(t.scope, i); err != nil {
			return fail(t.scope.Name, err)
		}
	}
	if !inScope && !managed {
		return nil
	}
	d := diff.Desired{Key: key, InScope: inScope}
	if inScope {
		d.Attrs = make(connectors.Attrs, len(t.attrs))
		for j, p := range t.attrs {
			v, err := ev.Eval(p, i)
			if err != nil {
				return fail(p.Name, err)
			}
			d.Attrs[t.policy.Attrs[j].Name] = v
		}
	}
	var stored *diff.Stored
	if managed {
		en, ok, err := e.store.Get(t.cfg.Name, key)
		if err != nil {
			return fmt.Errorf("target %s key %q: read state: %w", t.cfg.Name, key, err)
		}
		if !ok {
			return fmt.Errorf("target %s key %q: state entry vanished during planning", t.cfg.Name, key)
		}
		attrs, err := decodeAttrs(en.Attrs)
		if err != nil {
			return fmt.Errorf("target %s key %q: stored attributes: %w", t.cfg.Name, key, err)
		}
		stored = &diff.Stored{ID: en.ID, Disabled: en.Disabled, Attrs: attrs}
	}
	ops := diff.Present(t.policy, d, stored)
	if len(ops) == 0 {
		tr.out.Refresh = append(tr.out.Refresh, plan.Refresh{Key: key, Hash: h})
		return nil
	}
	for j, op := range ops {
		po := plan.Op{Op: op}
		if op.Action == connectors.Update {
			po.Desired = d.Attrs // a create's changes already are its whole state
		}
		if j == len(ops)-1 {
			po.Hash = h
		}
		tr.out.Ops = append(tr.out.Ops, po)
	}
	if ops[0].Action == connectors.Create && tr.matcher != nil {
		// Matched later, in one batch per target: see resolveMatches.
		tr.toMatch = append(tr.toMatch, len(tr.out.Ops)-1)
	}
	return nil
}

// resolveMatches looks up every planned create's match value in the
// target, in batches where the target allows, and turns a create into an
// adoption when exactly one unclaimed object matches. It never guesses:
// several matches, or an object already linked to another identity,
// quarantine the record instead.
func (e *Engine) resolveMatches(ctx context.Context, sr *sourceRun, tr *targetRun) error {
	if len(tr.toMatch) == 0 {
		return nil
	}
	attr := tr.t.policy.Attrs[tr.t.match].Name
	var idx []int
	var values []connectors.Value
	for _, i := range tr.toMatch {
		if v := tr.out.Ops[i].Attrs()[attr]; v != nil && v != "" {
			idx = append(idx, i)
			values = append(values, v)
		}
	}
	found, err := matchAll(ctx, tr.matcher, attr, values)
	if err != nil {
		return fmt.Errorf("target %s: looking up %s: %w", tr.t.cfg.Name, attr, err)
	}
	for k, i := range idx {
		op := &tr.out.Ops[i]
		adopt, err := e.adoption(tr, op, attr, found[k])
		switch {
		case err != nil:
			sr.rejects = append(sr.rejects, plan.Reject{Source: sr.s.cfg.Name, Target: tr.t.cfg.Name, Rule: "match",
				File: sr.s.cfg.Path, Line: int(sr.seen[op.Key]), Key: op.Key, Reason: err.Error()})
			tr.failed[op.Key] = true
		case adopt != nil:
			op.Op = *adopt
		}
	}
	return nil
}

func matchAll(ctx context.Context, m connectors.Matcher, attr string, values []connectors.Value) ([][]connectors.Object, error) {
	if bm, ok := m.(connectors.BatchMatcher); ok {
		return bm.MatchMany(ctx, attr, values)
	}
	out := make([][]connectors.Object, len(values))
	for i, v := range values {
		objs, err := m.Match(ctx, attr, v)
		if err != nil {
			return nil, err
		}
		out[i] = objs
	}
	return out, nil
}

// adoption decides what a create whose match value found objects becomes.
func (e *Engine) adoption(tr *targetRun, op *plan.Op, attr string, found []connectors.Object) (*connectors.Op, error) {
	desired := op.Attrs()
	value := desired[attr]
	switch len(found) {
	case 0:
		return nil, nil
	case 1:
	default:
		return nil, fmt.Errorf("ambiguous match: %d objects have %s=%v", len(found), attr, value)
	}
	obj := found[0]
	if owner, ok, err := e.store.KeyForID(tr.t.cfg.Name, obj.ID); err != nil {
		return nil, err
	} else if ok && owner != op.Key {
		return nil, fmt.Errorf("match conflict: object %s (%s=%v) is already linked to key %s", obj.ID, attr, value, owner)
	}
	if owner, ok := tr.claimed[obj.ID]; ok {
		return nil, fmt.Errorf("match conflict: object %s (%s=%v) is also matched by key %s in this run", obj.ID, attr, value, owner)
	}
	tr.claimed[obj.ID] = op.Key
	op.Desired = desired // an adoption writes only differences; state keeps the whole
	adopt := diff.Adopt(tr.t.policy, diff.Desired{Key: op.Key, InScope: true, Attrs: desired}, obj)
	return &adopt, nil
}

// finish adds deprovisions for absent objects, drops ops of duplicate keys,
// orders ops and applies the guards.
func (sr *sourceRun) finish(tr *targetRun) {
	for key := range sr.dups {
		tr.failed[key] = true
	}
	tr.out.Ops = slices.DeleteFunc(tr.out.Ops, func(op plan.Op) bool { return tr.failed[op.Key] })
	tr.out.Refresh = slices.DeleteFunc(tr.out.Refresh, func(r plan.Refresh) bool { return tr.failed[r.Key] })
	for key, ie := range tr.index {
		if _, ok := sr.seen[key]; ok {
			continue
		}
		for _, op := range diff.Absent(tr.t.policy, key, &diff.Stored{ID: ie.id, Disabled: ie.disabled}) {
			tr.out.Ops = append(tr.out.Ops, plan.Op{Op: op})
		}
	}
	rank := map[connectors.Action]int{}
	for i, a := range connectors.Actions {
		rank[a] = i
	}
	slices.SortStableFunc(tr.out.Ops, func(a, b plan.Op) int {
		return cmp.Or(cmp.Compare(rank[a.Action], rank[b.Action]), cmp.Compare(a.Key, b.Key))
	})
	tr.out.Guard = guard(tr.t, tr.out, len(sr.seen)-len(sr.dups), sr.unkeyed)
}

func joinLines(lines []int64) string {
	s := make([]string, len(lines))
	for i, l := range lines {
		s[i] = fmt.Sprint(l)
	}
	return strings.Join(s, ", ")
}
