package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/idsync/idsync/connectors"
)

var (
	_ connectors.KeyFinder    = (*Target)(nil)
	_ connectors.Target       = (*Target)(nil)
	_ connectors.Matcher      = (*Target)(nil)
	_ connectors.BatchMatcher = (*Target)(nil)
	_ connectors.Reader       = (*Target)(nil)
)

// Reserved columns. They start with "_" so they never clash with an
// attribute named like them ("disabled" is a plausible attribute).
const (
	idColumn       = "id"
	disabledColumn = "_disabled"
	// keyColumn holds the source key of the objects idsync created or
	// adopted, so a create lost in a crash is found, not repeated.
	keyColumn = "_key"
)

// Options configure the target.
type Options struct {
	// Path of the database file. Required; created if missing.
	Path string
	// Table holding users. Defaults to "users".
	Table string
	// Attributes are the attribute columns to ensure exist. Columns for
	// attributes no longer configured are kept: dropping data is not ours
	// to decide.
	Attributes []string
	// Match is the attribute used to find pre-existing rows. It gets a
	// case-insensitive index, since planning looks up every new identity.
	Match string
	// Types gives attributes whose values need converting when read
	// back: "bool" (SQLite stores 0/1) and "list" (stored as JSON text).
	// Without it an adopted or recovered row would look changed.
	Types map[string]string
}

// Target writes ops to a SQLite table.
type Target struct {
	db    *sql.DB
	table string
	attrs []string
	types map[string]string // see Options.Types
	// matchStmts caches prepared lookups per attribute: preparing costs
	// more than running the query, and planning runs one per new identity.
	mu         sync.Mutex
	matchStmts map[string]*sql.Stmt
	// lastInsert is the INSERT of the last create, which the next one
	// (almost always writing the same attributes) reuses; lastInsertMany
	// the same for createMany's many rows.
	lastInsert, lastInsertMany atomic.Pointer[insert]
}

// insert is the INSERT statement for creates writing attrs, in order,
// rows at a time.
type insert struct {
	attrs []string
	rows  int
	query string
}

// Open opens the database and makes sure the table and columns exist.
func Open(ctx context.Context, opts Options) (*Target, error) {
	if opts.Path == "" {
		return nil, errors.New("sqlite target: path is required")
	}
	if opts.Table == "" {
		opts.Table = "users"
	}
	for _, a := range opts.Attributes {
		if a == idColumn || a == disabledColumn {
			return nil, fmt.Errorf("sqlite target: attribute name %q is reserved", a)
		}
	}
	// mmap_size lets SQLite read the database's pages through a mapping
	// of the file instead of a read call each. Adding members checks each
	// member's user row (foreign_keys), and a group's members are spread
	// over the whole users table, far past SQLite's page cache: at a
	// million users, 12 groups' members took 6.8-8.1 s to add, against
	// 4.3-5.0 s mapped. The size is SQLite's default limit (2 GB); a
	// larger database reads its further pages as before. Writes still go
	// through the WAL.
	dsn := "file:" + (&url.URL{Path: opts.Path}).EscapedPath() +
		"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)" +
		"&_pragma=mmap_size(2147418112)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite target %s: %w", opts.Path, err)
	}
	// SQLite has one writer; more connections only add lock contention.
	db.SetMaxOpenConns(1)
	t := &Target{db: db, table: opts.Table, attrs: opts.Attributes, types: opts.Types, matchStmts: map[string]*sql.Stmt{}}
	if err := t.migrate(ctx, opts.Match); err != nil {
		_ = db.Close() // the migration error is the one to report
		return nil, fmt.Errorf("sqlite target %s: %w", opts.Path, err)
	}
	return t, nil
}

// DB exposes the handle for tests and the conformance suite.
func (t *Target) DB() *sql.DB { return t.db }

func (t *Target) migrate(ctx context.Context, match string) error {
	_, err := t.db.ExecContext(ctx, fmt.Sprintf(
		`CREATE TABLE IF NOT EXISTS %s (%s INTEGER PRIMARY KEY AUTOINCREMENT, %s INTEGER NOT NULL DEFAULT 0)`,
		quote(t.table), quote(idColumn), quote(disabledColumn)))
	if err != nil {
		return err
	}
	have, err := t.columns(ctx)
	if err != nil {
		return err
	}
	for _, a := range append([]string{keyColumn}, t.attrs...) {
		if !have[a] {
			if _, err := t.db.ExecContext(ctx, fmt.Sprintf(`ALTER TABLE %s ADD COLUMN %s`, quote(t.table), quote(a))); err != nil {
				return err
			}
		}
	}
	if _, err := t.db.ExecContext(ctx, fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %s ON %s (%s)`,
		quote("idsync_key_"+t.table), quote(t.table), quote(keyColumn))); err != nil {
		return err
	}
	// Groups live in two tables beside the users: names, and memberships
	// that vanish with either side.
	//
	// A user's delete finds its memberships by user_id, to cascade: with
	// no index on it, SQLite scanned the whole membership table for each,
	// 100 ms a delete at a million members. So user_id has an index, made
	// on tables from before it too. The table is WITHOUT ROWID: its
	// primary key is the table itself, so the index costs no more b-trees
	// than the table had; inserting into it still costs. A first load of
	// 100k users in 12 groups (BenchmarkFirstLoad, three alternating
	// runs): 15.9-17.0 µs a user against 15.3-15.7 µs; WITHOUT ROWID alone
	// took 15.3-15.8 µs against 15.8-16.4. The 20 deletes that took 2.0 s
	// at a million members took 1-3 ms.
	for _, q := range []string{
		fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE)`, quote(t.groupTable())),
		fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s (group_id INTEGER NOT NULL REFERENCES %s(id) ON DELETE CASCADE,
			user_id INTEGER NOT NULL REFERENCES %s(id) ON DELETE CASCADE, PRIMARY KEY (group_id, user_id)) WITHOUT ROWID`,
			quote(t.memberTable()), quote(t.groupTable()), quote(t.table)),
		fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %s ON %s (user_id)`, quote("idsync_user_"+t.memberTable()), quote(t.memberTable())),
	} {
		if _, err := t.db.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	if match == "" {
		return nil
	}
	_, err = t.db.ExecContext(ctx, fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %s ON %s (%s COLLATE NOCASE)`,
		quote("idsync_match_"+t.table+"_"+match), quote(t.table), quote(match)))
	return err
}

func (t *Target) columns(ctx context.Context) (map[string]bool, error) {
	rows, err := t.db.QueryContext(ctx, `SELECT name FROM pragma_table_info(?)`, t.table)
	if err != nil {
		return nil, err
	}
	defer rows.Close() //nolint:errcheck // rows.Err below reports what matters
	have := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		have[n] = true
	}
	return have, rows.Err()
}

// execer runs one statement: on the database (its own transaction) or
// inside a bulk transaction.
type execer interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
}

// Apply performs one op in its own statement.
func (t *Target) Apply(ctx context.Context, op connectors.Op) (connectors.Result, error) {
	if op.Object == connectors.Group {
		return t.applyGroup(ctx, op)
	}
	return t.applyUser(ctx, t.db, op)
}

func (t *Target) applyUser(ctx context.Context, x execer, op connectors.Op) (connectors.Result, error) {
	switch op.Action {
	case connectors.Create:
		return t.create(ctx, x, op)
	case connectors.Update:
		return t.update(ctx, x, op.ID, op.Changes)
	case connectors.Adopt:
		// Mark the adopted row as idsync's, like the ones it creates.
		return t.update(ctx, x, op.ID, append(slices.Clone(op.Changes), connectors.Change{Attr: keyColumn, New: op.Key}))
	case connectors.Disable, connectors.Enable:
		q := fmt.Sprintf(`UPDATE %s SET %s = ? WHERE %s = ?`, quote(t.table), quote(disabledColumn), quote(idColumn))
		return t.exec(ctx, x, op.ID, q, op.Action == connectors.Disable, op.ID)
	case connectors.Delete:
		q := fmt.Sprintf(`DELETE FROM %s WHERE %s = ?`, quote(t.table), quote(idColumn))
		return t.exec(ctx, x, op.ID, q, op.ID)
	case connectors.AddMember, connectors.RemoveMember:
		return connectors.Result{}, connectors.Terminal(nil, "sqlite target: %v is sent to the group, not the user", op.Action)
	}
	return connectors.Result{}, connectors.Terminal(nil, "sqlite target: unknown action %v", op.Action)
}

func (t *Target) create(ctx context.Context, x execer, op connectors.Op) (connectors.Result, error) {
	args := make([]any, 0, len(op.Changes)+2)
	args = append(args, op.Disabled, op.Key)
	for _, c := range op.Changes {
		args = append(args, toSQL(c.New))
	}
	res, err := x.ExecContext(ctx, t.insertFor(op.Changes, 1), args...)
	if err != nil {
		return connectors.Result{}, classify(err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return connectors.Result{}, classify(err)
	}
	return connectors.Result{ID: strconv.FormatInt(id, 10)}, nil
}

// insertFor returns the INSERT for rows creates writing changes'
// attributes in order; one of many rows returns each row's id and key.
// Building it took a quarter of a create's CPU, and a first sync's
// creates nearly all write the same attributes, so the last one built for
// one row and for many is kept.
func (t *Target) insertFor(changes []connectors.Change, rows int) string {
	slot := &t.lastInsert
	if rows > 1 {
		slot = &t.lastInsertMany
	}
	if last := slot.Load(); last != nil && last.rows == rows &&
		slices.EqualFunc(last.attrs, changes, func(a string, c connectors.Change) bool { return a == c.Attr }) {
		return last.query
	}
	in := &insert{attrs: make([]string, len(changes)), rows: rows}
	cols := []string{quote(disabledColumn), quote(keyColumn)}
	for i, c := range changes {
		in.attrs[i] = c.Attr
		cols = append(cols, quote(c.Attr))
	}
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
	in.query = fmt.Sprintf(`INSERT INTO %s (%s) VALUES %s`, quote(t.table), strings.Join(cols, ", "),
		strings.TrimSuffix(strings.Repeat(row+", ", rows), ", "))
	if rows > 1 {
		in.query += fmt.Sprintf(" RETURNING %s, %s", quote(idColumn), quote(keyColumn))
	}
	slot.Store(in)
	return in.query
}

func (t *Target) update(ctx context.Context, x execer, id string, changes []connectors.Change) (connectors.Result, error) {
	if len(changes) == 0 {
		return connectors.Result{ID: id}, nil
	}
	sets := make([]string, 0, len(changes))
	args := make([]any, 0, len(changes)+1)
	for _, c := range changes {
		sets = append(sets, quote(c.Attr)+" = ?")
		args = append(args, toSQL(c.New))
	}
	args = append(args, id)
	q := fmt.Sprintf(`UPDATE %s SET %s WHERE %s = ?`, quote(t.table), strings.Join(sets, ", "), quote(idColumn))
	return t.exec(ctx, x, id, q, args...)
}

// exec runs a statement that must touch exactly the row id.
func (t *Target) exec(ctx context.Context, x execer, id, q string, args ...any) (connectors.Result, error) {
	res, err := x.ExecContext(ctx, q, args...)
	if err != nil {
		return connectors.Result{}, classify(err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return connectors.Result{}, classify(err)
	} else if n == 0 {
		return connectors.Result{}, &connectors.Error{Kind: connectors.ErrNotFound, Detail: "id " + id}
	}
	return connectors.Result{ID: id}, nil
}

// Match finds rows whose attribute equals value, ignoring ASCII case: user
// names and mail addresses are case-insensitive in every directory we feed.
func (t *Target) Match(ctx context.Context, attr string, value connectors.Value) ([]connectors.Object, error) {
	t.mu.Lock()
	stmt, ok := t.matchStmts[attr]
	if !ok {
		var err error
		stmt, err = t.db.PrepareContext(ctx, fmt.Sprintf(`SELECT * FROM %s WHERE %s = ? COLLATE NOCASE`, quote(t.table), quote(attr)))
		if err != nil {
			t.mu.Unlock()
			return nil, classify(err)
		}
		t.matchStmts[attr] = stmt
	}
	t.mu.Unlock()
	rows, err := stmt.QueryContext(ctx, toSQL(value))
	if err != nil {
		return nil, classify(err)
	}
	return t.scan(rows)
}

// matchChunk bounds the IN list: SQLite allows 32766 parameters, and
// smaller statements plan faster.
const matchChunk = 500

// MatchMany looks values up matchChunk at a time.
func (t *Target) MatchMany(ctx context.Context, attr string, values []connectors.Value) ([][]connectors.Object, error) {
	out := make([][]connectors.Object, len(values))
	for start := 0; start < len(values); start += matchChunk {
		chunk := values[start:min(start+matchChunk, len(values))]
		args := make([]any, len(chunk))
		for i, v := range chunk {
			args[i] = toSQL(v)
		}
		q := fmt.Sprintf(`SELECT * FROM %s WHERE %s COLLATE NOCASE IN (%s)`, quote(t.table), quote(attr),
			strings.TrimSuffix(strings.Repeat("?,", len(chunk)), ","))
		objs, err := t.query(ctx, q, args...)
		if err != nil {
			return nil, err
		}
		for _, o := range objs {
			for i, v := range chunk {
				if foldEqual(o.Attrs[attr], v) {
					out[start+i] = append(out[start+i], o)
				}
			}
		}
	}
	return out, nil
}

// foldEqual is SQLite's NOCASE equality: ASCII letters fold, nothing else.
func foldEqual(a, b connectors.Value) bool {
	x, ok1 := a.(string)
	y, ok2 := b.(string)
	if !ok1 || !ok2 {
		return a == b
	}
	return len(x) == len(y) && lowerASCII(x) == lowerASCII(y)
}

func lowerASCII(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'A' && r <= 'Z' {
			return r + ('a' - 'A')
		}
		return r
	}, s)
}

// FindKey returns the rows idsync created or adopted for a source key.
func (t *Target) FindKey(ctx context.Context, key string) ([]connectors.Object, error) {
	return t.query(ctx, fmt.Sprintf(`SELECT * FROM %s WHERE %s = ?`, quote(t.table), quote(keyColumn)), key)
}

// Get reads one row by id.
func (t *Target) Get(ctx context.Context, id string) (connectors.Object, error) {
	objs, err := t.query(ctx, fmt.Sprintf(`SELECT * FROM %s WHERE %s = ?`, quote(t.table), quote(idColumn)), id)
	if err != nil {
		return connectors.Object{}, err
	}
	if len(objs) == 0 {
		return connectors.Object{}, &connectors.Error{Kind: connectors.ErrNotFound, Detail: "id " + id}
	}
	return objs[0], nil
}

// All reads every row, in id order. For tests and small tables.
func (t *Target) All(ctx context.Context) ([]connectors.Object, error) {
	return t.query(ctx, fmt.Sprintf(`SELECT * FROM %s ORDER BY %s`, quote(t.table), quote(idColumn)))
}

// ReadAll opens the database at opts.Path, reads every user and closes it:
// for tests and tools that check what a run left in the table.
func ReadAll(ctx context.Context, opts Options) ([]connectors.Object, error) {
	t, err := Open(ctx, opts)
	if err != nil {
		return nil, err
	}
	objs, err := t.All(ctx)
	return objs, errors.Join(err, t.Close())
}

func (t *Target) query(ctx context.Context, q string, args ...any) ([]connectors.Object, error) {
	rows, err := t.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, classify(err)
	}
	return t.scan(rows)
}

func (t *Target) scan(rows *sql.Rows) ([]connectors.Object, error) {
	defer rows.Close() //nolint:errcheck // rows.Err below reports what matters
	names, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out []connectors.Object
	for rows.Next() {
		vals := make([]any, len(names))
		ptrs := make([]any, len(names))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		obj := connectors.Object{Attrs: connectors.Attrs{}}
		for i, n := range names {
			switch n {
			case idColumn:
				obj.ID = fmt.Sprint(vals[i])
			case disabledColumn:
				obj.Disabled = vals[i] == int64(1)
			case keyColumn:
			default:
				if vals[i] != nil && t.configured(n) {
					obj.Attrs[n] = fromSQL(vals[i], t.types[n])
				}
			}
		}
		out = append(out, obj)
	}
	return out, rows.Err()
}

func (t *Target) configured(attr string) bool {
	for _, a := range t.attrs {
		if a == attr {
			return true
		}
	}
	return false
}

// Close closes the database.
func (t *Target) Close() error {
	var errs []error
	for _, s := range t.matchStmts {
		errs = append(errs, s.Close())
	}
	return errors.Join(append(errs, t.db.Close())...)
}

// quote makes an identifier safe to splice into SQL.
func quote(ident string) string { return `"` + strings.ReplaceAll(ident, `"`, `""`) + `"` }

// toSQL stores multi-valued attributes as JSON arrays; SQLite has no arrays.
func toSQL(v connectors.Value) any {
	if l, ok := v.([]string); ok {
		b, _ := json.Marshal(l)
		return string(b)
	}
	return v
}

// fromSQL turns a stored value back into what was written, given the
// attribute's type when known. A value that does not fit the type (a
// pre-existing column holding something else) is returned as stored, so
// the diff shows it rather than hiding it.
func fromSQL(v any, typ string) connectors.Value {
	if b, ok := v.([]byte); ok {
		v = string(b)
	}
	switch typ {
	case "bool":
		if n, ok := v.(int64); ok && (n == 0 || n == 1) {
			return n == 1
		}
	case "list":
		if s, ok := v.(string); ok {
			var l []string
			if json.Unmarshal([]byte(s), &l) == nil {
				return l
			}
		}
	}
	return v
}

// classify sorts driver errors: constraint violations are data problems
// (terminal, or a collision to adopt); busy/locked may pass.
func classify(err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "UNIQUE constraint failed"):
		return &connectors.Error{Kind: connectors.ErrExists, Cause: err}
	case strings.Contains(msg, "SQLITE_BUSY"), strings.Contains(msg, "database is locked"):
		return connectors.Retryable(err, "sqlite busy")
	}
	return connectors.Terminal(err, "sqlite")
}
