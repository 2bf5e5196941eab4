package pipeline

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/idsync/idsync/pipeline/config"
)

// TestParallelLandsEveryCommitBeforeItReturns checks the commit goroutine
// beside a rank's workers: queued commits run in order, all of them before
// parallel returns (the next rank reads them), acknowledged ops are
// committed even after a quarantine cancels the run, and a failed commit
// stops the run with its error and runs nothing after it.
func TestParallelLandsEveryCommitBeforeItReturns(t *testing.T) {
	newApplier := func(concurrency int) *applier {
		return &applier{t: &target{cfg: &config.Target{Concurrency: concurrency}}}
	}
	units := func(a *applier, n int, unit func(i int) error) []func(context.Context) error {
		var us []func(context.Context) error
		for i := range n {
			us = append(us, func(context.Context) error { return unit(i) })
		}
		return us
	}

	t.Run("in order, all landed", func(t *testing.T) {
		a := newApplier(1)
		var got []int
		var inFlight atomic.Int32
		err := a.parallel(context.Background(), units(a, 50, func(i int) error {
			return a.later(func() error {
				if inFlight.Add(1) != 1 {
					t.Error("two commits ran at once")
				}
				got = append(got, i)
				inFlight.Add(-1)
				return nil
			})
		}))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 50 {
			t.Fatalf("%d of 50 commits landed before parallel returned", len(got))
		}
		for i, v := range got {
			if v != i {
				t.Fatalf("commit %d ran as number %d: %v", v, i, got)
			}
		}
		if a.commits != nil {
			t.Error("the queue outlived its rank: a commit between ranks would wait for nothing")
		}
		ran := false
		if err := a.later(func() error { ran = true; return nil }); err != nil || !ran {
			t.Errorf("between ranks a commit runs at once: ran=%v err=%v", ran, err)
		}
	})

	t.Run("acknowledged ops survive a quarantine", func(t *testing.T) {
		a := newApplier(1)
		ctx, stop := context.WithCancelCause(context.Background())
		quarantined := errors.New("quarantined")
		var queued, landed atomic.Int32
		err := a.parallel(ctx, units(a, 10, func(i int) error {
			queued.Add(1)
			err := a.later(func() error { landed.Add(1); return nil })
			if i == 3 {
				stop(quarantined) // as applier.fail does, from a worker
			}
			return err
		}))
		if !errors.Is(err, quarantined) {
			t.Errorf("parallel returned %v, want the quarantine", err)
		}
		// The feed may hand out one more unit as the cancel lands.
		if q, n := queued.Load(), landed.Load(); n != q || q < 4 || q == 10 {
			t.Errorf("%d of %d queued commits landed; want all, and the run stopped after the 4th unit", n, q)
		}
	})

	t.Run("a failed commit stops the run", func(t *testing.T) {
		a := newApplier(2)
		broken := errors.New("state store broken")
		var after atomic.Int32
		var failed atomic.Bool
		err := a.parallel(context.Background(), units(a, 200, func(i int) error {
			return a.later(func() error {
				if failed.Load() {
					after.Add(1)
					return nil
				}
				if i == 5 {
					failed.Store(true)
					return broken
				}
				return nil
			})
		}))
		if !errors.Is(err, broken) {
			t.Errorf("parallel returned %v, want the commit's error", err)
		}
		if n := after.Load(); n != 0 {
			t.Errorf("%d commits ran after one failed", n)
		}
	})
}
