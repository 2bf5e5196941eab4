package main

import (
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/idsync/idsync/snapshots"
)

func stateCommand() *cli.Command {
	target := &cli.StringFlag{Name: "target", Usage: "the target `NAME` (default: every target)"}
	return &cli.Command{
		Name:  "state",
		Usage: "inspect and repair idsync's state",
		Subcommands: []*cli.Command{{
			Name:  "escrow",
			Usage: "list failed ops waiting for a retry; release or drop one",
			Flags: []cli.Flag{target},
			Action: func(c *cli.Context) (err error) {
				s, err := openSession(c, snapshots.Options{})
				if err != nil {
					return err
				}
				defer s.close(&err)
				n := 0
				for _, t := range s.cfg.Targets {
					if name := c.String("target"); name != "" && name != t.Name {
						continue
					}
					list, err := s.engine.Escrow(t.Name)
					if err != nil {
						return exitf(exitFailure, "%v", err)
					}
					for _, es := range list {
						n++
						state := "retry after " + time.Unix(es.NextRetry, 0).UTC().Format(time.RFC3339)
						if es.Dropped {
							state = "dropped"
						}
						fmt.Fprintf(c.App.Writer, "%s/%s\t%s\t%d attempt(s)\t%s\t%s\n", t.Name, es.Key, es.Action, es.Attempts, state, es.Error)
					}
				}
				fmt.Fprintf(c.App.Writer, "%d op(s) in escrow\n", n)
				return nil
			},
			Subcommands: []*cli.Command{
				escrowEdit("release", "retry the key's op on the next run", target),
				escrowEdit("drop", "stop retrying the key's op until it is released", target),
			},
		}},
	}
}

func escrowEdit(name, usage string, target *cli.StringFlag) *cli.Command {
	return &cli.Command{
		Name: name, Usage: usage, ArgsUsage: "KEY", Flags: []cli.Flag{target},
		Action: func(c *cli.Context) (err error) {
			key := c.Args().First()
			if key == "" || c.NArg() != 1 {
				return exitf(exitConfig, "state escrow %s: give exactly one KEY", name)
			}
			s, err := openSession(c, snapshots.Options{})
			if err != nil {
				return err
			}
			defer s.close(&err)
			found := 0
			for _, t := range s.cfg.Targets {
				if tn := c.String("target"); tn != "" && tn != t.Name {
					continue
				}
				edit := s.engine.ReleaseEscrow
				if name == "drop" {
					edit = s.engine.DropEscrow
				}
				ok, err := edit(t.Name, key)
				if err != nil {
					return exitf(exitFailure, "%v", err)
				}
				if ok {
					found++
					fmt.Fprintf(c.App.Writer, "%s/%s: %s\n", t.Name, key, map[string]string{"release": "released", "drop": "dropped"}[name])
				}
			}
			if found == 0 {
				return exitf(exitConfig, "no escrow entry for key %s", key)
			}
			return nil
		},
	}
}
