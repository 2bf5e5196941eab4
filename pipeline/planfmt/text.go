package planfmt

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/idsync/idsync/connectors"
	"github.com/idsync/idsync/pipeline/plan"
)

// Text writes how each source was read, then one line per op and a
// summary line per target.
func Text(w io.Writer, p *plan.Plan) error { return text(w, p, true) }

// TextSummary writes what Text does without the op lines: per target the
// counts, guards, deferrals and escrow.
func TextSummary(w io.Writer, p *plan.Plan) error { return text(w, p, false) }

func text(w io.Writer, p *plan.Plan, ops bool) error {
	ew := &errWriter{w: w}
	for _, s := range p.Sources {
		how := "full"
		if !s.Full {
			how = "delta"
		}
		ew.printf("source %s: %s read\n", s.Name, how)
	}
	for _, t := range p.Targets {
		for _, op := range t.Ops {
			if ops {
				ew.printf("%s\n", Line(t, op))
			}
		}
		if t.Skipped != "" {
			ew.printf("%s: not planned: %s\n", t.Name, t.Skipped)
			continue
		}
		ew.printf("%s\n", Summary(t))
		if g := t.Guard; g != nil {
			ew.printf("! %s\n", GuardMessage(t.Name, g))
		}
		for _, d := range t.Deferred {
			ew.printf("%s: deferred: %s\n", t.Name, d)
		}
		if t.Waiting > 0 {
			ew.printf("%s: %d record(s) wait for the next run: this plan holds the target's opsPerRun\n", t.Name, t.Waiting)
		}
		for _, es := range t.Escrowed {
			when := "retry after " + es.NextRetry.Format(time.RFC3339)
			if es.Dropped {
				when = "dropped; release it with idsync state escrow release"
			}
			ew.printf("%s/%s: %s held in escrow (%d failed attempt(s); %s): %s\n", t.Name, es.Key, es.Action, es.Attempts, when, es.Error)
		}
	}
	return ew.err
}

// Line renders one op of target t as plan text.
func Line(t *plan.Target, op plan.Op) string {
	var plain plan.PlainBuf
	op = t.Plain(op, &plain)
	return fmt.Sprintf("%c %-13s %s/%s%s", op.Action.Symbol(), op.Action, t.Name, subject(op), details(redact(t, op)))
}

// Redacted replaces sensitive values in printed plans.
const Redacted = "(sensitive)"

// redact returns op with the target's sensitive attribute values replaced.
func redact(t *plan.Target, op plan.Op) plan.Op {
	if len(t.Sensitive) == 0 {
		return op
	}
	changes := make([]connectors.Change, len(op.Changes()))
	for i, c := range op.Changes() {
		if slices.Contains(t.Sensitive, c.Attr) {
			c.Old, c.New = hide(c.Old), hide(c.New)
		}
		changes[i] = c
	}
	return op.WithChanges(changes)
}

func hide(v connectors.Value) connectors.Value {
	if v == nil {
		return nil
	}
	return Redacted
}

// subject names what an op is about: a user key, a group, or a member
// joining or leaving a group.
func subject(op plan.Op) string {
	switch {
	case op.Object == connectors.Group:
		return "group:" + op.Key
	case op.Action == connectors.AddMember:
		return op.Key + " → group:" + op.Group
	case op.Action == connectors.RemoveMember:
		return op.Key + " ← group:" + op.Group
	}
	return op.Key
}

func details(op plan.Op) string {
	var b strings.Builder
	if op.ID() != "" {
		fmt.Fprintf(&b, " id=%s", op.ID())
	}
	for _, c := range op.Changes() {
		if op.Action == connectors.Create {
			fmt.Fprintf(&b, " %s=%s", c.Attr, show(c.New))
		} else {
			fmt.Fprintf(&b, " %s: %s → %s", c.Attr, show(c.Old), show(c.New))
		}
	}
	switch {
	case op.Disabled:
		fmt.Fprintf(&b, " (%s; created disabled)", op.Reason)
	case op.Reason != "":
		fmt.Fprintf(&b, " (%s)", op.Reason)
	}
	return b.String()
}

func show(v connectors.Value) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return fmt.Sprintf("%q", x)
	case []string:
		q := make([]string, len(x))
		for i, s := range x {
			q[i] = fmt.Sprintf("%q", s)
		}
		return "[" + strings.Join(q, ", ") + "]"
	}
	return fmt.Sprint(v)
}

// Summary is the one-line count for a target; "no changes" when empty.
func Summary(t *plan.Target) string {
	if len(t.Ops) == 0 {
		return fmt.Sprintf("%s: no changes (%d managed)", t.Name, t.Managed)
	}
	users, groups := map[connectors.Action]int{}, map[connectors.Action]int{}
	for _, op := range t.Ops {
		if op.Object == connectors.Group {
			groups[op.Action]++
		} else {
			users[op.Action]++
		}
	}
	var parts []string
	for _, a := range connectors.Actions {
		if n := users[a]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, a))
		}
	}
	for _, a := range connectors.Actions {
		if n := groups[a]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d group %s", n, a))
		}
	}
	return fmt.Sprintf("%s: %s (%d managed)", t.Name, strings.Join(parts, ", "), t.Managed)
}

// GuardMessage explains a tripped guard and how to override it.
func GuardMessage(target string, g *plan.Guard) string {
	var why string
	switch g.Reason {
	case "empty-source":
		why = "the source is empty"
	case "unreadable-records":
		why = fmt.Sprintf("%.0f record(s) could not be read, so their objects would look absent", g.Limit)
	case "max-deletes":
		why = fmt.Sprintf("that exceeds maxDeletes (%.0f)", g.Limit)
	case "max-delete-percent":
		why = fmt.Sprintf("that exceeds maxDeletePercent (%g%%)", g.Limit)
	default:
		why = g.Reason
	}
	return fmt.Sprintf("deletion guard: %s would disable or delete %d object(s), but %s; "+
		"these ops are held back (rerun apply with --allow-deletes to apply them)", target, g.Count, why)
}

// errWriter keeps the first write error so callers check once.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}
