package main

import (
	"io"

	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/urfave/cli/v2"

	"github.com/idsync/idsync/pipeline"
)

// barProgress draws the engine's progress as a bar on a terminal: rows or
// ops so far, the rate, and an ETA. Apply knows its total; a full read
// expects about as many rows as the last one held, a first read or a delta
// what the file's size suggests, and a read with no estimate shows a
// spinner with the count and rate.
type barProgress struct {
	w     io.Writer
	bar   *progressbar.ProgressBar
	mu    sync.Mutex // guards done and total: Add comes from many goroutines
	done  int
	total int
}

// progressFor returns the progress display for a plan or apply: a bar when
// both stdout and stderr are terminals and --quiet is not set, else none.
// A piped or redirected run stays free of control characters.
func progressFor(c *cli.Context) pipeline.Progress {
	if c.Bool("quiet") || !isTerminal(c.App.Writer) || !isTerminal(c.App.ErrWriter) {
		return nil
	}
	return &barProgress{w: c.App.ErrWriter}
}

func (p *barProgress) Begin(stage string, total int) {
	p.done, p.total = 0, total
	unit := "rows"
	if strings.HasPrefix(stage, "apply") {
		unit = "ops"
	}
	p.bar = progressbar.NewOptions(total,
		progressbar.OptionSetWriter(p.w),
		progressbar.OptionSetDescription(stage),
		progressbar.OptionSetWidth(30),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString(unit),
		progressbar.OptionSetPredictTime(total > 0),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
}

func (p *barProgress) Add(n int) {
	p.mu.Lock()
	p.done += n
	if p.total > 0 && p.done > p.total {
		// The source grew since the estimate: stretch the bar, not past 100%.
		p.total = p.done + p.done/10
		p.bar.ChangeMax(p.total)
	}
	p.mu.Unlock()
	_ = p.bar.Add(n)
}

func (p *barProgress) End() {
	_ = p.bar.Finish()
	_ = p.bar.Exit() // stops the spinner's ticker
}
