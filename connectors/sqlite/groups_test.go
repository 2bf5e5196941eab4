package sqlite

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
)

// TestAUsersDeleteFindsItsMembershipsByIndex: deleting a user cascades to
// its memberships, which SQLite finds by user_id. Without an index there
// it scanned the whole membership table per delete (100 ms at a million
// members). Tables made before the index get it when the target opens.
func TestAUsersDeleteFindsItsMembershipsByIndex(t *testing.T) {
	fresh := filepath.Join(t.TempDir(), "fresh.db")
	old := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", old)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT, _disabled INTEGER NOT NULL DEFAULT 0)`,
		`CREATE TABLE users_groups (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE)`,
		`CREATE TABLE users_group_members (group_id INTEGER NOT NULL REFERENCES users_groups(id) ON DELETE CASCADE,
			user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE, PRIMARY KEY (group_id, user_id))`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{fresh, old} {
		tg, err := Open(t.Context(), Options{Path: path, Attributes: []string{"userName"}})
		if err != nil {
			t.Fatal(err)
		}
		var id, parent, unused int
		var detail string
		err = tg.DB().QueryRow(`EXPLAIN QUERY PLAN SELECT 1 FROM users_group_members WHERE user_id = ?`, 1).Scan(&id, &parent, &unused, &detail)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(detail, "INDEX") {
			t.Errorf("%s: memberships by user: %q, want a search by index", filepath.Base(path), detail)
		}
		if err := tg.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
