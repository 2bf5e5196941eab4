package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/idsync/idsync/connectors"
	"github.com/idsync/idsync/pipeline/config"
	"github.com/idsync/idsync/snapshots"
)

// Options configure an Engine. Zero values take the stated defaults.
type Options struct {
	// Now is the run's clock, which rules see as `now`. Defaults to
	// time.Now() when the engine is made.
	Now time.Time
	// Log receives structured progress and warnings. Defaults to discarding.
	Log *slog.Logger
	// Metrics, when set, are updated as the engine works.
	Metrics *Metrics
	// Progress, when set, hears how far reading and applying have got.
	Progress Progress
	// PlanGCPercent, when above zero, is Go's GC percent while Plan runs
	// for an unbounded first sync (no target has state or an opsPerRun);
	// the process's own setting is restored after. See planGC.
	PlanGCPercent int
	// PlanMemoryLimit, when above zero, runs that first sync's plan with
	// Go's collector off instead, until the heap reaches this many bytes,
	// where it collects as under a memory limit; PlanGCPercent is then
	// not used. See collectorOff.
	PlanMemoryLimit int64
	// SparsePlanGCPercent, when above zero, is Go's GC percent while any
	// other plan reads, until it holds many ops. See sparseGC.
	SparsePlanGCPercent int
}

// metric runs f with the metrics, if there are any.
func (e *Engine) metric(f func(m *Metrics)) {
	if e.opts.Metrics != nil {
		f(e.opts.Metrics)
	}
}

// Engine plans and applies one config against one state store.
type Engine struct {
	c        *compiled
	store    *snapshots.Store
	opts     Options
	targets  map[string]connectors.Target
	commitMu sync.Mutex // see commit.go
	// runID names this engine's run (one CLI command, one daemon run) in
	// every log line and in the provisioning log.
	runID string
}

// Validate compiles cfg's rules without touching state or systems. The
// error lists every problem with its file position.
func Validate(cfg *config.Config) error {
	_, err := compile(cfg)
	return err
}

// Rules are a config's compiled rules, for NewCompiled.
type Rules struct{ c *compiled }

// Compile compiles cfg's rules, which touches neither state nor systems:
// a command can do it while its state opens. The error is Validate's.
func Compile(cfg *config.Config) (*Rules, error) {
	c, err := compile(cfg)
	if err != nil {
		return nil, err
	}
	return &Rules{c: c}, nil
}

// New compiles cfg and returns an engine over store.
func New(cfg *config.Config, store *snapshots.Store, opts Options) (*Engine, error) {
	r, err := Compile(cfg)
	if err != nil {
		return nil, err
	}
	return NewCompiled(r, store, opts)
}

// NewCompiled returns an engine over store that runs rules.
func NewCompiled(rules *Rules, store *snapshots.Store, opts Options) (*Engine, error) {
	c := rules.c
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	opts.Now = opts.Now.UTC()
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Progress == nil {
		opts.Progress = noProgress{}
	}
	runID := newRunID()
	opts.Log = opts.Log.With("run", runID)
	// Finish a v5 upgrade before anything reads a user's groups.
	if legacy, err := store.LegacyGroups(); err != nil {
		return nil, err
	} else if legacy {
		opts.Log.Info("moving users' groups out of their stored attributes (state v5); once")
		if err := store.MoveGroups(moveGroups); err != nil {
			return nil, fmt.Errorf("state: moving groups: %w", err)
		}
	}
	return &Engine{c: c, store: store, opts: opts, targets: map[string]connectors.Target{}, runID: runID}, nil
}

// RunID names this run in logs and in the provisioning log.
func (e *Engine) RunID() string { return e.runID }

// target returns the connected target, connecting on first use.
func (e *Engine) target(ctx context.Context, t *target) (connectors.Target, error) {
	if conn, ok := e.targets[t.cfg.Name]; ok {
		return conn, nil
	}
	conn, err := openTarget(ctx, t)
	if err != nil {
		return nil, err
	}
	e.targets[t.cfg.Name] = conn
	return conn, nil
}

// Close disconnects every target.
func (e *Engine) Close() error {
	var errs []error
	for name, conn := range e.targets {
		if err := conn.Close(); err != nil {
			errs = append(errs, fmt.Errorf("target %s: %w", name, err))
		}
	}
	clear(e.targets)
	return errors.Join(errs...)
}
