package main

import (
	"bufio"
	"bytes"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestLifecycle runs the six-day HR scenario in testdata/lifecycle through
// the CLI, one apply per day with that day's clock, and checks each day's
// output and the final directory against the golden files there. Run with
// -update to rewrite them after an intended change, then review the diff.
func TestLifecycle(t *testing.T) {
	src := "../../testdata/lifecycle"
	dir := t.TempDir()
	if err := copyDir(src, dir); err != nil {
		t.Fatal(err)
	}
	for _, day := range readDays(t, filepath.Join(src, "days.txt")) {
		t.Setenv("HR_FILE", day.file)
		var out, errs bytes.Buffer
		code := run(t.Context(), []string{"idsync", "--now", day.now, "-c", filepath.Join(dir, "idsync.yaml"), "apply"}, &out, &errs)
		got := fmt.Sprintf("# %s\n%s--- exit %d; stderr:\n%s", day.what, out.String(), code, errs.String())
		golden(t, filepath.Join(src, strings.TrimSuffix(day.file, ".csv")+".golden"), got)
	}
	golden(t, filepath.Join(src, "final.golden"), dumpDirectory(t, filepath.Join(dir, "directory.db")))
}

type day struct{ file, now, what string }

func readDays(t *testing.T, path string) []day {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var days []day
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 3 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		days = append(days, day{file: fields[0], now: fields[1], what: strings.Join(fields[2:], " ")})
	}
	if len(days) == 0 {
		t.Fatalf("%s lists no days", path)
	}
	return days
}

// golden compares got with the file, or rewrites the file under -update.
func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", filepath.Base(path), diff)
	}
}

// dumpDirectory renders users, groups and memberships as they stand.
func dumpDirectory(t *testing.T, path string) string {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var b strings.Builder
	for _, q := range []string{
		`SELECT id, "employeeNumber", "userName", "displayName", title, department, "employeeType", manager, _disabled FROM users ORDER BY id`,
		`SELECT g.name, group_concat(u."employeeNumber", ' ') FROM users_groups g LEFT JOIN
		   (SELECT * FROM users_group_members ORDER BY user_id) m ON m.group_id = g.id LEFT JOIN users u ON u.id = m.user_id
		   GROUP BY g.id ORDER BY g.name`,
	} {
		rows, err := db.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		b.WriteString(strings.Join(cols, " | ") + "\n")
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			parts := make([]string, len(vals))
			for i, v := range vals {
				if v == nil {
					v = ""
				}
				parts[i] = fmt.Sprint(v)
			}
			b.WriteString(strings.Join(parts, " | ") + "\n")
		}
		rows.Close()
		b.WriteString("\n")
	}
	return b.String()
}
