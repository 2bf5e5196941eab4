package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/urfave/cli/v2"
)

// Exit codes. Scripts depend on them; never renumber.
const (
	exitOK      = 0
	exitFailure = 1 // an op failed to apply, or the run could not proceed
	exitConfig  = 2 // invalid config, rules or command line
	exitData    = 3 // some input records were quarantined; the rest applied
	exitGuard   = 4 // a safety guard held back disables/deletes
)

// exitError carries an exit code up through urfave/cli.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func exitf(code int, format string, args ...any) error {
	return &exitError{code: code, err: fmt.Errorf(format, args...)}
}

// run is main without the process: tests call it in-process.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	app := newApp(stdout, stderr)
	err := app.RunContext(ctx, args)
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err.Error() != "" {
			fmt.Fprintln(stderr, "idsync:", ee.err)
		}
		return ee.code
	}
	// Anything urfave/cli reports itself is a usage problem.
	fmt.Fprintln(stderr, "idsync:", err)
	return exitConfig
}

func newApp(stdout, stderr io.Writer) *cli.App {
	return &cli.App{
		Name:  "idsync",
		Usage: "keep every person's accounts right in every system",
		Description: "idsync reads identity sources (an HR export), computes each person's desired accounts\n" +
			"with CEL rules, and applies the minimal changes to targets. Start with:\n\n" +
			"   idsync validate -c idsync.yaml   check the config and every rule\n" +
			"   idsync plan -c idsync.yaml       show what would change, touching nothing\n" +
			"   idsync apply -c idsync.yaml      make the changes\n\n" +
			"Exit codes: 0 ok, 1 an op failed, 2 invalid config or usage, 3 records quarantined,\n" +
			"4 the deletion guard held back disables/deletes.",
		Writer:          stdout,
		ErrWriter:       stderr,
		HideHelpCommand: true,
		// Errors and exit codes are ours; urfave must never call os.Exit.
		ExitErrHandler: func(*cli.Context, error) {},
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config", Aliases: []string{"c"}, Value: "idsync.yaml", Usage: "config `FILE`"},
			&cli.StringFlag{Name: "state", Usage: "state `DIR`, overriding the config's state setting"},
			&cli.StringFlag{Name: "now", Usage: "fix the clock to an RFC 3339 `TIME` for reproducible runs"},
			&cli.StringFlag{Name: "log-level", Value: "warn", Usage: "debug, info, warn or error"},
			&cli.StringFlag{Name: "log-format", Value: "auto", Usage: "text, json, or auto: text on a terminal and JSON otherwise"},
			&cli.StringFlag{Name: "cpuprofile", Usage: "write a Go CPU profile of the command to `FILE` (for `go tool pprof`)"},
			&cli.StringFlag{Name: "memprofile", Usage: "write a Go heap profile to `FILE` when the command ends (live memory, for `go tool pprof`)"},
		},
		Before:   startProfile,
		After:    stopProfile,
		Commands: []*cli.Command{validateCommand(), planCommand(), applyCommand(), explainCommand(), logCommand(), runCommand(), stateCommand()},
	}
}

// fullFlag forces a full read of sources that are normally read as deltas.
var fullFlag = &cli.BoolFlag{Name: "full", Usage: "read every source in full (a full reconcile), even when a delta is scheduled"}

// globals are the parsed global flags.
type globals struct {
	config string
	state  string
	now    time.Time
	log    *slog.Logger
}

func parseGlobals(c *cli.Context) (*globals, error) {
	g := &globals{config: c.String("config"), state: c.String("state")}
	if s := c.String("now"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return nil, exitf(exitConfig, "--now: want RFC 3339 time like 2025-01-31T09:00:00Z, got %q", s)
		}
		g.now = t
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.String("log-level"))); err != nil {
		return nil, exitf(exitConfig, "--log-level: %v", err)
	}
	h, err := logHandler(c.App.ErrWriter, c.String("log-format"), &slog.HandlerOptions{Level: level})
	if err != nil {
		return nil, err
	}
	g.log = slog.New(h)
	return g, nil
}

// logHandler picks the log encoding. Log shippers want one JSON object per
// line; people at a terminal want text. "auto" decides by whether w is a
// terminal, so a systemd unit or container gets JSON without a flag.
func logHandler(w io.Writer, format string, opts *slog.HandlerOptions) (slog.Handler, error) {
	switch format {
	case "auto":
		if isTerminal(w) {
			return slog.NewTextHandler(w, opts), nil
		}
		return slog.NewJSONHandler(w, opts), nil
	case "text":
		return slog.NewTextHandler(w, opts), nil
	case "json":
		return slog.NewJSONHandler(w, opts), nil
	}
	return nil, exitf(exitConfig, "--log-format: want text, json or auto, got %q", format)
}

// isTerminal reports whether w is a file attached to a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}
