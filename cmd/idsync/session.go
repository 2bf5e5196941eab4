package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/idsync/idsync/pipeline"
	"github.com/idsync/idsync/pipeline/config"
	"github.com/idsync/idsync/pipeline/plan"
	"github.com/idsync/idsync/snapshots"
)

// session is what plan and apply share: config, state and engine.
type session struct {
	g      *globals
	cfg    *config.Config
	store  *snapshots.Store
	engine *pipeline.Engine
}

// openSession opens config, state and engine; opts are the state's (plan
// opens it without compactions, see snapshots.Options).
func openSession(c *cli.Context, opts snapshots.Options) (*session, error) {
	g, err := parseGlobals(c)
	if err != nil {
		return nil, err
	}
	cfg, err := loadConfig(g)
	if err != nil {
		return nil, err
	}
	// The rules compile while Badger opens (its manifest, every table's
	// index): each takes one core for tens of milliseconds, ahead of
	// everything a plan does.
	type opened struct {
		store *snapshots.Store
		err   error
	}
	opening := make(chan opened, 1)
	go func() {
		store, err := snapshots.Open(cfg.State, opts)
		opening <- opened{store, err}
	}()
	rules, compileErr := pipeline.Compile(cfg)
	o := <-opening
	store, err := o.store, o.err
	if err != nil {
		if errors.Is(err, snapshots.ErrLocked) {
			return nil, exitf(exitFailure, "%v; wait for it to finish or stop it", err)
		}
		return nil, exitf(exitFailure, "%v", err)
	}
	if compileErr != nil {
		_ = store.Close() // the config error is what the user needs to see
		return nil, exitf(exitConfig, "%v", compileErr)
	}
	eng, err := pipeline.NewCompiled(rules, store, pipeline.Options{Now: g.now, Log: g.log, Progress: progressFor(c), PlanGCPercent: planGCPercent(), PlanMemoryLimit: planMemoryLimit(),
		SparsePlanGCPercent: sparsePlanGCPercent()})
	if err != nil {
		_ = store.Close() // the config error is what the user needs to see
		return nil, exitf(exitConfig, "%v", err)
	}
	return &session{g: g, cfg: cfg, store: store, engine: eng}, nil
}

// close releases targets and state, reporting a failure (state that did
// not flush is worth knowing about) unless the command already failed.
func (s *session) close(err *error) {
	if cerr := errors.Join(s.engine.Close(), s.store.Close()); cerr != nil && *err == nil {
		*err = exitf(exitFailure, "closing: %v", cerr)
	}
}

func loadConfig(g *globals) (*config.Config, error) {
	cfg, err := config.Load(g.config, config.Options{State: g.state})
	if err != nil {
		return nil, exitf(exitConfig, "%v", err)
	}
	return cfg, nil
}

// printRejects lists quarantined records, one line each, file:line first so
// editors can jump to them.
func printRejects(w io.Writer, rejects []plan.Reject) {
	for _, r := range rejects {
		loc := displayPath(r.File)
		if r.Line > 0 {
			loc += fmt.Sprintf(":%d", r.Line)
			if r.Column > 0 {
				loc += fmt.Sprintf(":%d", r.Column)
			}
		}
		what := ""
		switch {
		case r.Rule != "":
			what = fmt.Sprintf("target %s rule %s: ", r.Target, r.Rule)
		case r.Field != "":
			what = fmt.Sprintf("field %s: ", r.Field)
		}
		key := ""
		if r.Key != "" {
			key = fmt.Sprintf(" [key %s]", r.Key)
		}
		fmt.Fprintf(w, "%s: %s%s%s (record quarantined)\n", loc, what, r.Reason, key)
	}
	if n := len(rejects); n > 0 {
		fmt.Fprintf(w, "%d record(s) quarantined; their objects were left untouched\n", n)
	}
}

// planExit is the exit code a finished plan or apply earns.
func planExit(p *plan.Plan, held, failed int) error {
	switch {
	case held > 0:
		return &exitError{code: exitGuard, err: errors.New("")}
	case failed > 0:
		return exitf(exitFailure, "%d op(s) failed", failed)
	case len(p.Rejects) > 0:
		return &exitError{code: exitData, err: errors.New("")}
	}
	return nil
}

// displayPath shortens an absolute path under the working directory to a
// relative one, which is what the user typed and what editors jump to.
func displayPath(p string) string {
	wd, err := os.Getwd()
	if err != nil || !filepath.IsAbs(p) {
		return p
	}
	if rel, err := filepath.Rel(wd, p); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return p
}
