package sqlite

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/idsync/idsync/connectors"
)

// createsPerInsert is how many creates one INSERT statement writes inside a
// bulk. A statement's own costs (starting it, ending it, its bookkeeping of
// AUTOINCREMENT, database/sql's argument handling) were a third of a
// single-row create's; 64 rows of a dozen columns stay far below SQLite's
// limit of 32,766 parameters.
const createsPerInsert = 64

// sameCreates counts how many of ops, from the first, are user creates
// writing the same attributes in the same order, up to createsPerInsert.
// applyInTx sends only full statements of createsPerInsert rows: one
// statement text, prepared once a bulk.
func sameCreates(ops []connectors.Op) int {
	first := ops[0]
	if first.Object != connectors.User || first.Action != connectors.Create {
		return 0
	}
	n := 1
	for n < len(ops) && n < createsPerInsert {
		op := ops[n]
		if op.Object != connectors.User || op.Action != connectors.Create ||
			!slices.EqualFunc(op.Changes, first.Changes, func(a, b connectors.Change) bool { return a.Attr == b.Attr }) {
			break
		}
		n++
	}
	return n
}

// createMany inserts creates that write the same attributes with one
// statement and fills in their results. Each row's id
// comes back with its key: SQLite does not promise RETURNING's row order.
// On an error nothing is reported per op: the caller rolls the bulk back
// and applies its ops one by one.
func (t *Target) createMany(ctx context.Context, x *txStmts, ops []connectors.Op, results []connectors.Result) error {
	args := make([]any, 0, len(ops)*(len(ops[0].Changes)+2))
	at := make(map[string]int, len(ops))
	for i, op := range ops {
		args = append(args, op.Disabled, op.Key)
		for _, c := range op.Changes {
			args = append(args, toSQL(c.New))
		}
		at[op.Key] = i
	}
	rows, err := x.QueryContext(ctx, t.insertFor(ops[0].Changes, len(ops)), args...)
	if err != nil {
		return classify(err)
	}
	defer rows.Close() //nolint:errcheck // read to the end below; Err reports what matters
	n := 0
	for rows.Next() {
		var id int64
		var key string
		if err := rows.Scan(&id, &key); err != nil {
			return err
		}
		i, ok := at[key]
		if !ok || results[i].ID != "" {
			return fmt.Errorf("sqlite target: INSERT returned key %q unexpectedly", key)
		}
		results[i] = connectors.Result{ID: strconv.FormatInt(id, 10)}
		n++
	}
	if err := rows.Err(); err != nil {
		return classify(err)
	}
	if n != len(ops) {
		return fmt.Errorf("sqlite target: INSERT of %d rows returned %d", len(ops), n)
	}
	return nil
}
