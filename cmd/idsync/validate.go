package main

import (
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/idsync/idsync/pipeline"
	"github.com/idsync/idsync/pipeline/config"
)

func validateCommand() *cli.Command {
	return &cli.Command{
		Name:  "validate",
		Usage: "check the config and type-check every rule, reporting all problems at once",
		Action: func(c *cli.Context) error {
			g, err := parseGlobals(c)
			if err != nil {
				return err
			}
			// Report config and rule problems together, in file order, so
			// one run shows everything to fix.
			cfg, err := config.Load(g.config, config.Options{State: g.state})
			var errs config.Errors
			if !errors.As(err, &errs) && err != nil {
				return exitf(exitConfig, "%v", err)
			}
			if cfg != nil {
				var rerrs config.Errors
				if errors.As(pipeline.Validate(cfg), &rerrs) {
					errs = append(errs, rerrs...)
				}
			}
			if len(errs) > 0 {
				errs.Sort()
				return exitf(exitConfig, "%v", errs)
			}
			rules := 0
			for _, t := range cfg.Targets {
				rules += len(t.Attributes)
				if t.Scope.Text != "" {
					rules++
				}
			}
			fmt.Fprintf(c.App.Writer, "%s: ok (%d source(s), %d target(s), %d rule(s))\n",
				cfg.File, len(cfg.Sources), len(cfg.Targets), rules)
			return nil
		},
	}
}
