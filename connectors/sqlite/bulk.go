package sqlite

import (
	"context"
	"database/sql"

	"github.com/idsync/idsync/connectors"
)

var _ connectors.BulkApplier = (*Target)(nil)

// bulkSize is how many user ops share one transaction. A SQLite commit
// costs a WAL write and a sync; one per op made a million creates take
// minutes. Past a few hundred ops per commit there is little left to win.
// A whole number of createMany's statements, so that a first sync's bulks
// are all full ones.
const bulkSize = 8 * createsPerInsert

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
	x := &txStmts{tx: tx, stmts: map[string]*sql.Stmt{}}
	// The statements run without ctx's cancellation, which is checked
	// between them instead: for a context that can end, the driver starts
	// a goroutine per statement to interrupt it, and at a million
	// single-row statements that was a million goroutines. One row's
	// statement takes microseconds; the transaction still ends with ctx.
	stmtCtx := context.WithoutCancel(ctx)
	for i := 0; i < len(ops); {
		op := ops[i]
		if op.Object == connectors.Group || ctx.Err() != nil {
			// Groups have their own path, and a stopped run stops here;
			// nothing was written that matters.
			_ = tx.Rollback()
			return false
		}
		if n := sameCreates(ops[i:]); n == createsPerInsert {
			err = t.createMany(stmtCtx, x, ops[i:i+n], results[i:i+n])
			i += n
		} else {
			results[i], err = t.applyUser(stmtCtx, x, op)
			i++
		}
		if err != nil {
			_ = tx.Rollback() // the ops are retried one by one
			return false
		}
	}
	return tx.Commit() == nil
}

// txStmts runs a bulk's statements in its transaction, preparing each
// distinct one once: parsing and planning an INSERT cost SQLite more than
// running it, and a bulk's creates mostly share one column list. The
// transaction closes the statements when it ends.
type txStmts struct {
	tx    *sql.Tx
	stmts map[string]*sql.Stmt
}

func (x *txStmts) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	stmt, err := x.prepared(ctx, q)
	if err != nil {
		return nil, err
	}
	return stmt.ExecContext(ctx, args...)
}

func (x *txStmts) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	stmt, err := x.prepared(ctx, q)
	if err != nil {
		return nil, err
	}
	return stmt.QueryContext(ctx, args...)
}

// prepared returns q prepared in the transaction, preparing it once.
func (x *txStmts) prepared(ctx context.Context, q string) (*sql.Stmt, error) {
	if stmt, ok := x.stmts[q]; ok {
		return stmt, nil
	}
	stmt, err := x.tx.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	x.stmts[q] = stmt
	return stmt, nil
}
