package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/idsync/idsync/pipeline"
	"github.com/idsync/idsync/pipeline/plan"
	"github.com/idsync/idsync/pipeline/planfmt"
	"github.com/idsync/idsync/snapshots"
)

func explainCommand() *cli.Command {
	return &cli.Command{
		Name:  "explain",
		Usage: "show why one identity has (or lacks) an account in a target; --apply provisions just it",
		Description: "For one key: the source record, the scope decision with the rule and the values it read,\n" +
			"each attribute's value with its rule, the match, the stored state, and the ops a run would send.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "target", Required: true, Usage: "the target `NAME`"},
			&cli.StringFlag{Name: "key", Required: true, Usage: "the identity's source `KEY`"},
			&cli.BoolFlag{Name: "apply", Usage: "apply this identity's ops now (provision on demand)"},
		},
		Action: func(c *cli.Context) (err error) {
			s, err := openSession(c, snapshots.Options{})
			if err != nil {
				return err
			}
			defer s.close(&err)
			x, err := s.engine.Explain(c.Context, c.String("target"), c.String("key"))
			if err != nil {
				return exitf(exitConfig, "%v", err)
			}
			printExplanation(c.App.Writer, x)
			if !c.Bool("apply") || len(x.Ops) == 0 {
				return nil
			}
			p, err := s.engine.ExplainPlan(x)
			if err != nil {
				return exitf(exitFailure, "%v", err)
			}
			rep, err := s.engine.Apply(c.Context, p, pipeline.ApplyOptions{AllowDeletes: true})
			if rep != nil {
				printReport(c.App.Writer, c.App.ErrWriter, rep)
			}
			if err != nil {
				return exitf(exitFailure, "%v", err)
			}
			if rep.Failed() > 0 {
				return exitf(exitFailure, "%d op(s) failed", rep.Failed())
			}
			return nil
		},
	}
}

func printExplanation(w io.Writer, x *pipeline.Explanation) {
	fmt.Fprintf(w, "%s in %s: %s\n\n", x.Key, x.Target, x.Verdict)
	switch {
	case len(x.Lines) == 0:
		fmt.Fprintf(w, "source %s (%s): no record with this key\n", x.Source, displayPath(x.File))
	default:
		fmt.Fprintf(w, "source %s: %s line %s\n", x.Source, displayPath(x.File), joinInts(x.Lines))
	}
	for _, f := range x.Record {
		fmt.Fprintf(w, "  %s = %s\n", f.Name, show(f.Value))
	}
	if len(x.Rules) > 0 {
		fmt.Fprintln(w, "\nrules:")
	}
	secret := func(attr string) bool { return slices.Contains(x.Sensitive, attr) }
	for _, r := range x.Rules {
		result := "= " + show(r.Value)
		if secret(strings.TrimPrefix(r.Name, "attributes.")) && r.Value != nil {
			result = "= " + planfmt.Redacted
		}
		switch {
		case r.Err != "":
			result = "FAILED: " + r.Err
		case r.Skipped:
			result = "(not evaluated: out of scope)"
		}
		fmt.Fprintf(w, "  %s %s\n      rule: %s\n", r.Name, result, strings.TrimSpace(r.Text))
		if len(r.Reads) > 0 && !r.Skipped {
			var reads []string
			for _, f := range r.Reads {
				reads = append(reads, f.Name+"="+show(f.Value))
			}
			fmt.Fprintf(w, "      read: %s\n", strings.Join(reads, ", "))
		}
	}
	if m := x.Match; m != nil {
		found := "nothing: a new object is created"
		if len(m.Found) > 0 {
			found = strings.Join(m.Found, ", ")
		}
		fmt.Fprintf(w, "\nmatch: %s = %s finds %s\n", m.Attr, show(m.Value), found)
	}
	fmt.Fprintln(w)
	if x.Stored == nil {
		fmt.Fprintln(w, "state: no object linked")
	} else {
		status := "active"
		if x.Stored.Disabled {
			status = "disabled"
		}
		fmt.Fprintf(w, "state: linked to id %s, %s\n", x.Stored.ID, status)
		for _, name := range sortedKeys(x.StoredAttrs) {
			v := show(x.StoredAttrs[name])
			if secret(name) {
				v = planfmt.Redacted
			}
			fmt.Fprintf(w, "  %s = %s\n", name, v)
		}
	}
	if x.Escrow != nil {
		fmt.Fprintf(w, "escrow: %s failed %d time(s): %s\n", x.Escrow.Action, x.Escrow.Attempts, x.Escrow.Error)
	}
	fmt.Fprintln(w, "\nops:")
	if len(x.Ops) == 0 {
		fmt.Fprintln(w, "  none")
		return
	}
	t := &plan.Target{Name: x.Target, Sensitive: x.Sensitive}
	for _, op := range x.Ops {
		fmt.Fprintf(w, "  %s\n", planfmt.Line(t, op))
	}
}

func show(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return fmt.Sprintf("%q", x)
	}
	return fmt.Sprint(v)
}

func joinInts(l []int64) string {
	s := make([]string, len(l))
	for i, v := range l {
		s[i] = fmt.Sprint(v)
	}
	return strings.Join(s, ", ")
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
