package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/idsync/idsync/pipeline/config"
	"github.com/idsync/idsync/snapshots"
)

func logCommand() *cli.Command {
	return &cli.Command{
		Name:  "log",
		Usage: "what happened to one identity: every op idsync applied, failed or held for it",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "key", Required: true, Usage: "the identity's source `KEY`"},
			&cli.StringFlag{Name: "target", Usage: "only this target `NAME`"},
			&cli.StringFlag{Name: "since", Usage: "only the last `DURATION` (24h, 7d)"},
			&cli.StringFlag{Name: "format", Value: "text", Usage: "text or jsonl"},
		},
		Action: func(c *cli.Context) (err error) {
			var since time.Time
			if s := c.String("since"); s != "" {
				d, err := config.ParseDuration(s)
				if err != nil {
					return exitf(exitConfig, "--since: %v", err)
				}
				since = time.Now().Add(-d)
			}
			s, err := openSession(c, snapshots.Options{})
			if err != nil {
				return err
			}
			defer s.close(&err)
			recs, err := s.engine.History(c.String("key"), c.String("target"), since)
			if err != nil {
				return exitf(exitFailure, "%v", err)
			}
			enc := json.NewEncoder(c.App.Writer)
			for _, r := range recs {
				if c.String("format") == "jsonl" {
					if err := enc.Encode(r); err != nil {
						return exitf(exitFailure, "%v", err)
					}
					continue
				}
				var what []string
				for _, ch := range r.Changes {
					what = append(what, fmt.Sprintf("%s: %s → %s", ch.Attr, show(ch.Old), show(ch.New)))
				}
				if r.Group != "" {
					what = append(what, "group "+r.Group)
				}
				line := fmt.Sprintf("%s run %s %s/%s %s %s", r.Time.UTC().Format(time.RFC3339), r.Run, r.Target, r.Key, r.Action, r.Result)
				if r.Reason != "" {
					line += " (" + r.Reason + ")"
				}
				if len(what) > 0 {
					line += ": " + strings.Join(what, ", ")
				}
				if r.Error != "" {
					line += ": " + r.Error
				}
				fmt.Fprintln(c.App.Writer, line)
			}
			if len(recs) == 0 {
				fmt.Fprintf(c.App.Writer, "no provisioning records for %s\n", c.String("key"))
			}
			return nil
		},
	}
}
