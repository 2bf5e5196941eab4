package main

import (
	"errors"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/idsync/idsync/pipeline"
	"github.com/idsync/idsync/pipeline/plan"
	"github.com/idsync/idsync/pipeline/planfmt"
	"github.com/idsync/idsync/snapshots"
)

func planCommand() *cli.Command {
	return &cli.Command{
		Name:  "plan",
		Usage: "show the ops a run would apply, touching nothing",
		Description: "Reads every source, evaluates the rules and compares with stored state.\n" +
			"Targets are only queried (to find existing objects to adopt), never changed.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Value: "text", Usage: "text or jsonl (one op per line)"},
			&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Usage: "also save the plan to `FILE` for apply --plan"},
			fullFlag,
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "text format: print only each target's summary, not every op"},
		},
		Action: func(c *cli.Context) (err error) {
			format := c.String("format")
			if format != "text" && format != "jsonl" {
				return exitf(exitConfig, "--format: want text or jsonl, got %q", format)
			}
			s, err := openSession(c, snapshots.Options{NoCompactions: true})
			if err != nil {
				return err
			}
			defer s.close(&err)
			// The process ends once the plan is printed.
			p, err := s.engine.Plan(c.Context, pipeline.PlanOptions{Full: c.Bool("full"), KeepGCPercent: true})
			if err != nil {
				return exitf(exitFailure, "%v", err)
			}
			printRejects(c.App.ErrWriter, p.Rejects)
			if out := c.String("out"); out != "" {
				if err := savePlan(out, p); err != nil {
					return exitf(exitFailure, "%v", err)
				}
			}
			switch {
			case format == "jsonl":
				err = planfmt.JSONL(c.App.Writer, p)
			case c.Bool("quiet"):
				err = planfmt.TextSummary(c.App.Writer, p)
			default:
				err = planfmt.Text(c.App.Writer, p)
			}
			if err != nil {
				return exitf(exitFailure, "%v", err)
			}
			held := 0
			for _, t := range p.Targets {
				if t.Guard != nil {
					held += t.Guard.Count
				}
			}
			return planExit(p, held, 0)
		},
	}
}

func savePlan(path string, p *plan.Plan) error {
	// 0600: a saved plan holds the values it will write, sensitive ones too.
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	return errors.Join(plan.Write(f, p), f.Close())
}
