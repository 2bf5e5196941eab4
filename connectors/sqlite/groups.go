package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/idsync/idsync/connectors"
)

func (t *Target) groupTable() string  { return t.table + "_groups" }
func (t *Target) memberTable() string { return t.table + "_group_members" }

// applyGroup creates or deletes a group, or changes its members.
func (t *Target) applyGroup(ctx context.Context, op connectors.Op) (connectors.Result, error) {
	switch op.Action {
	case connectors.Create:
		// A group of that name made by someone else is taken over rather
		// than duplicated: names are unique in this table.
		q := fmt.Sprintf(`INSERT INTO %s (name) VALUES (?) ON CONFLICT(name) DO UPDATE SET name = excluded.name RETURNING id`, quote(t.groupTable()))
		var id int64
		if err := t.db.QueryRowContext(ctx, q, op.Key).Scan(&id); err != nil {
			return connectors.Result{}, classify(err)
		}
		return connectors.Result{ID: strconv.FormatInt(id, 10)}, nil
	case connectors.Delete:
		return t.exec(ctx, t.db, op.ID, fmt.Sprintf(`DELETE FROM %s WHERE id = ?`, quote(t.groupTable())), op.ID)
	case connectors.AddMember, connectors.RemoveMember:
		return t.members(ctx, op)
	}
	return connectors.Result{}, connectors.Terminal(nil, "sqlite target: %v of a group is not supported", op.Action)
}

// members adds or removes op.Members in one transaction: the batch is one
// request, all or nothing.
func (t *Target) members(ctx context.Context, op connectors.Op) (connectors.Result, error) {
	if len(op.Members) == 0 {
		return connectors.Result{ID: op.ID}, nil
	}
	var exists int
	err := t.db.QueryRowContext(ctx, fmt.Sprintf(`SELECT 1 FROM %s WHERE id = ?`, quote(t.groupTable())), op.ID).Scan(&exists)
	if errors.Is(err, sql.ErrNoRows) {
		return connectors.Result{}, &connectors.Error{Kind: connectors.ErrNotFound, Detail: "group " + op.ID}
	}
	if err != nil {
		return connectors.Result{}, classify(err)
	}
	marks := strings.TrimSuffix(strings.Repeat("(?, ?),", len(op.Members)), ",")
	args := make([]any, 0, 2*len(op.Members))
	for _, m := range op.Members {
		args = append(args, op.ID, m)
	}
	q := fmt.Sprintf(`INSERT OR IGNORE INTO %s (group_id, user_id) VALUES %s`, quote(t.memberTable()), marks)
	if op.Action == connectors.RemoveMember {
		q = fmt.Sprintf(`DELETE FROM %s WHERE (group_id, user_id) IN (VALUES %s)`, quote(t.memberTable()), marks)
	}
	if _, err := t.db.ExecContext(ctx, q, args...); err != nil {
		return connectors.Result{}, classify(err)
	}
	return connectors.Result{ID: op.ID}, nil
}

// Members returns the user ids in a group, sorted; for tests and
// inspection.
func (t *Target) Members(ctx context.Context, groupID string) ([]string, error) {
	rows, err := t.db.QueryContext(ctx, fmt.Sprintf(`SELECT user_id FROM %s WHERE group_id = ? ORDER BY user_id`, quote(t.memberTable())), groupID)
	if err != nil {
		return nil, classify(err)
	}
	defer rows.Close() //nolint:errcheck // rows.Err below reports what matters
	var ids []string
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, strconv.FormatInt(id, 10))
	}
	return ids, rows.Err()
}
