package pipeline

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/idsync/idsync/connectors"
)

// send applies one op with retries; a create that collides with an
// existing object is turned into an adoption of it.
func (a *applier) send(ctx context.Context, op connectors.Op) (connectors.Result, error) {
	start := time.Now()
	defer a.e.metric(func(m *Metrics) {
		m.applyDuration.WithLabelValues(a.t.cfg.Name, op.Action.String()).Observe(time.Since(start).Seconds())
	})
	for attempt := 0; ; attempt++ {
		res, err := a.conn.Apply(ctx, op)
		a.e.metric(func(m *Metrics) { m.targetRequests.WithLabelValues(a.t.cfg.Name, codeClass(err)).Inc() })
		if err == nil || !connectors.IsRetryable(err) || attempt >= a.opts.Retries {
			if errors.Is(err, connectors.ErrExists) && op.Action == connectors.Create && op.Object == connectors.User {
				return a.adoptOnConflict(ctx, op)
			}
			return res, err
		}
		a.log.Info("retrying", "key", op.Key, "action", op.Action.String(), "attempt", attempt+1, "err", err)
		a.e.metric(func(m *Metrics) { m.retries.WithLabelValues(a.t.cfg.Name).Inc() })
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(backoff(a.opts, attempt, connectors.RetryAfterOf(err))):
		}
	}
}

// backoff is the wait before retry attempt+1: exponential with full
// jitter, so concurrent workers hit by the same 429 spread out, but never
// shorter than what the target asked for, and never past MaxBackoff.
func backoff(o ApplyOptions, attempt int, retryAfter time.Duration) time.Duration {
	ceiling := min(o.Backoff<<min(attempt, 20), o.MaxBackoff)
	d := time.Duration(rand.Int64N(int64(ceiling) + 1))
	return min(max(d, retryAfter), o.MaxBackoff)
}

func (a *applier) adoptOnConflict(ctx context.Context, op connectors.Op) (connectors.Result, error) {
	m, ok := a.conn.(connectors.Matcher)
	if !ok || a.t.match < 0 {
		return connectors.Result{}, connectors.Terminal(connectors.ErrExists, "create of %s collided and the target has no match rule", op.Key)
	}
	attr := a.t.policy.Attrs[a.t.match].Name
	found, err := m.Match(ctx, attr, op.Attrs()[attr])
	if err != nil {
		return connectors.Result{}, err
	}
	if len(found) != 1 {
		return connectors.Result{}, connectors.Terminal(connectors.ErrExists, "create of %s collided; %d objects match %s", op.Key, len(found), attr)
	}
	adopt := connectors.Op{Action: connectors.Adopt, Key: op.Key, ID: found[0].ID, Reason: "match"}
	for _, c := range op.Changes {
		adopt.Changes = append(adopt.Changes, connectors.Change{Attr: c.Attr, Old: found[0].Attrs[c.Attr], New: c.New})
	}
	return a.conn.Apply(ctx, adopt)
}
