package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/idsync/idsync/pipeline"
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
			cfg, err := loadConfig(g)
			if err != nil {
				return err
			}
			if err := pipeline.Validate(cfg); err != nil {
				return exitf(exitConfig, "%v", err)
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
