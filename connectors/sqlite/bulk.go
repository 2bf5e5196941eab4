package sqlite

import (
	"context"

	"github.com/idsync/idsync/connectors"
)

var _ connectors.BulkApplier = (*Target)(nil)

// bulkSize is how many user ops share one transaction. A SQLite commit
// costs a WAL write and a sync; one per op made a million creates take
// minutes. Past a few hundred ops per commit there is little left to win.
const bulkSize = 500

// BulkSize is how many ops ApplyBulk takes at a time.
func (t *Target) BulkSize() int { return bulkSize }

// ApplyBulk applies user ops in one transaction. If any op fails, the
// transaction is rolled back and every op is applied on its own instead,
// so each gets its own result and error, exactly as without bulk.
func (t *Target) ApplyBulk(ctx context.Context, ops []connectors.Op) ([]connectors.Result, []error) {
	results, errs := make([]connectors.Result, len(ops)), make([]error, len(ops))
	if t.applyInTx(ctx, ops, results) {
		return results, errs
	}
	for i, op := range ops {
		results[i], errs[i] = t.Apply(ctx, op)
	}
	return results, errs
}

// applyInTx reports whether every op applied and the transaction committed;
// on false nothing was written.
func (t *Target) applyInTx(ctx context.Context, ops []connectors.Op, results []connectors.Result) bool {
	tx, err := t.db.BeginTx(ctx, nil)
	if err != nil {
		return false
	}
	for i, op := range ops {
		if op.Object == connectors.Group {
			_ = tx.Rollback() // groups have their own path; nothing was written that matters
			return false
		}
		if results[i], err = t.applyUser(ctx, tx, op); err != nil {
			_ = tx.Rollback() // the ops are retried one by one
			return false
		}
	}
	return tx.Commit() == nil
}
