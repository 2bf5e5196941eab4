package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
	_ "modernc.org/sqlite"
)

var update = flag.Bool("update", false, "rewrite testscript golden output")

// exitFileEnv names a file where the idsync test program records its exit
// code, so scripts can assert exact codes with the status command.
const exitFileEnv = "IDSYNC_TEST_EXIT_FILE"

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"idsync": func() {
			code := run(context.Background(), os.Args, os.Stdout, os.Stderr)
			if f := os.Getenv(exitFileEnv); f != "" {
				_ = os.WriteFile(f, []byte(strconv.Itoa(code)), 0o644)
			}
			os.Exit(code)
		},
	})
}

// TestScripts runs the CLI scripts in testdata/script. Each script gets a
// copy of the quickstart under $WORK/quickstart.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:           "../../testdata/script",
		UpdateScripts: *update,
		Setup: func(env *testscript.Env) error {
			env.Setenv(exitFileEnv, filepath.Join(env.WorkDir, ".exit-code"))
			return copyDir("../../testdata/quickstart", filepath.Join(env.WorkDir, "quickstart"))
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"sqlite": cmdSQLite,
			"status": cmdStatus,
		},
	})
}

// cmdSQLite runs one SQL statement: `sqlite DB SQL`. Query results go to
// stdout, one row a line, columns separated by "|" like the sqlite3 shell.
func cmdSQLite(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: sqlite DB SQL")
	}
	db, err := sql.Open("sqlite", ts.MkAbs(args[0]))
	ts.Check(err)
	defer db.Close()
	rows, err := db.Query(args[1])
	if neg {
		if err == nil {
			rows.Close()
			ts.Fatalf("unexpected success")
		}
		return
	}
	ts.Check(err)
	defer rows.Close()
	cols, err := rows.Columns()
	ts.Check(err)
	var out strings.Builder
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		ts.Check(rows.Scan(ptrs...))
		parts := make([]string, len(vals))
		for i, v := range vals {
			switch x := v.(type) {
			case nil:
				parts[i] = ""
			case []byte:
				parts[i] = string(x)
			default:
				parts[i] = fmt.Sprint(x)
			}
		}
		out.WriteString(strings.Join(parts, "|") + "\n")
	}
	ts.Check(rows.Err())
	fmt.Fprint(ts.Stdout(), out.String())
}

// cmdStatus checks the exit code of the last idsync run: `status N`.
func cmdStatus(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 || neg {
		ts.Fatalf("usage: status N")
	}
	got, err := os.ReadFile(ts.Getenv(exitFileEnv))
	ts.Check(err)
	if string(got) != args[0] {
		ts.Fatalf("exit code %s, want %s", got, args[0])
	}
}

func copyDir(from, to string) error {
	entries, err := os.ReadDir(from)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(to, 0o755); err != nil {
		return err
	}
	for _, e := range entries {
		// Only the shipped files: never a developer's state or database.
		if e.IsDir() || strings.HasSuffix(e.Name(), ".db") || strings.Contains(e.Name(), ".db-") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
