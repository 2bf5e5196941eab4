package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/idsync/idsync/connectors"
	"github.com/idsync/idsync/pipeline"
	"github.com/idsync/idsync/pipeline/plan"
	"github.com/idsync/idsync/pipeline/planfmt"
	"github.com/idsync/idsync/snapshots"
)

func applyCommand() *cli.Command {
	return &cli.Command{
		Name:  "apply",
		Usage: "plan and apply the changes (or apply a saved plan exactly)",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "allow-deletes", Usage: "apply disables/deletes even when a deletion guard trips"},
			&cli.StringFlag{Name: "plan", Usage: "apply exactly the saved plan `FILE`; refused if state moved since"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only the summary"},
			fullFlag,
		},
		Action: func(c *cli.Context) (err error) {
			s, err := openSession(c, snapshots.Options{})
			if err != nil {
				return err
			}
			defer s.close(&err)
			var w waves
			for {
				rep, more, err := w.next(c, s)
				if err != nil || !more {
					return err
				}
				fmt.Fprintf(c.App.Writer, "%d record(s) wait for the next wave (opsPerRun); planning it\n", rep.Waiting())
			}
		},
	}
}

// waves runs apply's plan-and-apply rounds. A plan holds at most each
// target's opsPerRun ops; while records wait, apply plans and applies
// again, reading the source afresh each time. A saved plan is one round.
type waves struct {
	held, failed int
	rejects      []plan.Reject
	seen         map[plan.Reject]bool // rejects already printed: each wave reads the same records
}

// next plans and applies one wave. more is true when records wait for
// another; err is the command's result once there are none.
func (w *waves) next(c *cli.Context, s *session) (rep *pipeline.Report, more bool, err error) {
	p, saved, err := loadOrPlan(c, s)
	if err != nil {
		return nil, false, err
	}
	printRejects(c.App.ErrWriter, w.fresh(p.Rejects))
	if !c.Bool("quiet") {
		if err := planfmt.Text(c.App.Writer, p); err != nil {
			return nil, false, exitf(exitFailure, "%v", err)
		}
	}
	rep, err = s.engine.Apply(c.Context, p, pipeline.ApplyOptions{AllowDeletes: c.Bool("allow-deletes"), CheckSerial: saved})
	if rep != nil {
		printReport(c.App.Writer, c.App.ErrWriter, rep)
	}
	if errors.Is(err, pipeline.ErrStalePlan) {
		return rep, false, exitf(exitConfig, "%v", err)
	}
	if err != nil {
		return rep, false, exitf(exitFailure, "%v", err)
	}
	for _, t := range rep.Targets {
		if t.Quarantined != "" {
			return rep, false, exitf(exitFailure, "target %s quarantined: %s; later runs probe it again with backoff", t.Name, t.Quarantined)
		}
	}
	w.held += rep.Held()
	w.failed += rep.Failed()
	if saved && rep.Waiting() > 0 {
		fmt.Fprintf(c.App.Writer, "%d record(s) wait for the next run (opsPerRun); plan and apply again for them\n", rep.Waiting())
	}
	if !saved && rep.Waiting() > 0 {
		if rep.Applied() == 0 {
			// Every op of the wave failed or was held: the next wave would
			// plan the same ones again.
			return rep, false, exitf(exitFailure, "a wave applied nothing; %d record(s) still wait for later runs", rep.Waiting())
		}
		return rep, true, nil
	}
	return rep, false, planExit(&plan.Plan{Rejects: w.rejects}, w.held, w.failed)
}

// fresh returns the rejects not printed in an earlier wave, and remembers them.
func (w *waves) fresh(rejects []plan.Reject) []plan.Reject {
	if w.seen == nil {
		w.seen = map[plan.Reject]bool{}
	}
	var out []plan.Reject
	for _, r := range rejects {
		if !w.seen[r] {
			w.seen[r] = true
			out = append(out, r)
		}
	}
	w.rejects = append(w.rejects, out...)
	return out
}

func loadOrPlan(c *cli.Context, s *session) (*plan.Plan, bool, error) {
	path := c.String("plan")
	if path == "" {
		p, err := s.engine.Plan(c.Context, pipeline.PlanOptions{Full: c.Bool("full"), Apply: true})
		if err != nil {
			return nil, false, exitf(exitFailure, "%v", err)
		}
		return p, false, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, false, exitf(exitConfig, "%v", err)
	}
	defer f.Close() //nolint:errcheck // read-only: nothing to lose on close
	p, err := plan.Read(f)
	if err != nil {
		return nil, false, exitf(exitConfig, "%s: %v", path, err)
	}
	return p, true, nil
}

func printReport(stdout, stderr io.Writer, rep *pipeline.Report) {
	for _, t := range rep.Targets {
		var parts []string
		for _, a := range connectors.Actions {
			if n := t.Applied[a]; n > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", n, a))
			}
		}
		for _, a := range connectors.Actions {
			if n := t.AppliedGroups[a]; n > 0 {
				parts = append(parts, fmt.Sprintf("%d group %s", n, a))
			}
		}
		done := "nothing to do"
		if len(parts) > 0 {
			done = strings.Join(parts, ", ")
		}
		if t.Skipped != "" {
			fmt.Fprintf(stdout, "skipped %s: %s\n", t.Name, t.Skipped)
			continue
		}
		fmt.Fprintf(stdout, "applied %s: %s; %d failed\n", t.Name, done, len(t.Failed))
		if t.Escrowed > 0 {
			fmt.Fprintf(stderr, "%s: %d failed op(s) put in escrow; later runs retry them (idsync state escrow lists them)\n", t.Name, t.Escrowed)
		}
		for _, f := range t.Failed {
			fmt.Fprintf(stderr, "%s/%s: %s failed: %v\n", t.Name, f.Op.Key, f.Op.Action, f.Err)
		}
		for _, d := range t.Deferred {
			fmt.Fprintf(stderr, "%s: deferred: %s\n", t.Name, d)
		}
		for _, d := range t.Drift {
			fmt.Fprintf(stderr, "%s: drift: %s\n", t.Name, d)
		}
		if t.Held > 0 {
			fmt.Fprintf(stderr, "%s: %d disable/delete op(s) held back by the deletion guard; rerun with --allow-deletes to apply them\n", t.Name, t.Held)
		}
	}
}
