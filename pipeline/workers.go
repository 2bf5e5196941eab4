package pipeline

import (
	"context"
	"sync"
)

// parallel runs units on the target's concurrency, stopping at the first
// error (an error here is a state failure, not a failed op).
//
// State commits that units hand to later run on one more goroutine, so a
// target's next request goes out while the last one's outcome is being
// committed. At concurrency 1 a local target and the state store would
// otherwise take turns, each idle while the other works: measured on 100k
// SQLite creates, that was a third of the wall time. Concurrency still
// bounds the requests in flight; only commits run beside them.
func (a *applier) parallel(ctx context.Context, units []func(context.Context) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	commits := startCommits(cancel)
	a.commits = commits
	defer func() { a.commits = nil }()
	next := make(chan func(context.Context) error)
	var wg sync.WaitGroup
	for range min(a.t.cfg.Concurrency, len(units)) {
		wg.Go(func() {
			for u := range next {
				if err := u(ctx); err != nil {
					cancel(err)
				}
			}
		})
	}
feed:
	for _, u := range units {
		select {
		case next <- u:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	// The next rank may depend on this one's commits (a membership needs
	// its user's id): every queued commit lands before parallel returns.
	commits.close()
	return context.Cause(ctx)
}

// later runs commit on the commit goroutine while parallel runs, and at
// once otherwise.
func (a *applier) later(commit func() error) error {
	if a.commits == nil {
		return commit()
	}
	a.commits.add(commit)
	return nil
}

// commitQueue runs commits in the order they were queued, on one
// goroutine. Its buffer of one lets a worker queue a commit and go on while
// the one before it runs; a worker that gets further ahead waits, which
// bounds what acknowledged ops wait in memory.
type commitQueue struct {
	jobs chan func() error
	done chan struct{}
}

// startCommits starts the commit goroutine. A failed commit means the state
// store is failing: stop calls cancel, and later commits are dropped (their
// journal records stay, and the next run's recovery resolves them).
// Cancellation alone does not stop it: an op the target acknowledged is
// committed even when the run is being stopped, say by a quarantine.
func startCommits(cancel context.CancelCauseFunc) *commitQueue {
	q := &commitQueue{jobs: make(chan func() error, 1), done: make(chan struct{})}
	go func() {
		defer close(q.done)
		var failed error
		for job := range q.jobs {
			if failed != nil {
				continue
			}
			if failed = job(); failed != nil {
				cancel(failed)
			}
		}
	}()
	return q
}

func (q *commitQueue) add(job func() error) { q.jobs <- job }

// close waits for every queued commit to finish.
func (q *commitQueue) close() {
	close(q.jobs)
	<-q.done
}
