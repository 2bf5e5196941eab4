// Command duckdb is idsync's peer baseline: what a user would build
// instead with DuckDB. It loads the previous snapshot (the stored state)
// and the current one, writes the reference policy's 3 targets x 10
// mappings and scope rules in SQL, and diffs with a FULL OUTER JOIN. Like
// idsync's plan, it writes every change (action, key and new values) out,
// as JSON lines under -out. It prints the change counts and a key sample
// per target and action, which bench/e2e compares with idsync's plan: a
// baseline that does less work is no baseline. It is its own module
// because DuckDB needs cgo.
package main

import (
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	_ "github.com/duckdb/duckdb-go/v2"
)

// desired is each target's mapping and scope in SQL, over a snapshot s.
var desired = map[string]string{
	"directory": `SELECT employeeId AS k, lower(employeeId) a1, givenName || ' ' || surname a2, givenName a3, surname a4,
		lower(givenName || '.' || surname) || '@example.com' a5, department a6, title a7, country a8, coalesce(managerId, '') a9,
		status = 'Active' a10, department AS grp FROM %s WHERE status <> 'Terminated'`,
	"app": `SELECT employeeId AS k, lower(givenName) || '_' || employeeId a1, surname || ', ' || givenName a2, department a3,
		CASE WHEN title IN ('Manager', 'Director') THEN 'admin' ELSE 'member' END a4,
		CASE WHEN country IN ('US', 'BR') THEN 'AMER' WHEN country IN ('IN', 'JP') THEN 'APAC' ELSE 'EMEA' END a5,
		lower(employeeId) || '@app.example.com' a6, title = 'Lead' a7,
		CASE WHEN title = 'Director' THEN 'L3' WHEN title = 'Manager' THEN 'L2' ELSE 'L1' END a8, upper(surname) a9,
		coalesce(managerId, '') a10, NULL AS grp
		FROM %s WHERE status = 'Active' AND department IN ('Engineering', 'Product', 'Research', 'IT', 'Support')`,
	"hris": `SELECT employeeId AS k, employeeId a1, givenName a2, surname a3, department a4, title a5, coalesce(managerId, '') a6,
		status a7, country a8, employeeId || ':' || surname a9, title = 'Associate' a10, NULL AS grp
		FROM %s WHERE status <> 'Terminated' OR country = 'US'`,
}

func main() {
	prev := flag.String("prev", "", "previous snapshot: the stored state (empty: a first run)")
	cur := flag.String("cur", "", "current snapshot")
	out := flag.String("out", os.TempDir(), "directory for the changes, one <target>.jsonl each")
	flag.Parse()
	if err := run(*prev, *cur, *out); err != nil {
		fmt.Fprintln(os.Stderr, "duckdb:", err)
		os.Exit(1)
	}
}

func run(prev, cur, out string) error {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return err
	}
	defer db.Close()
	exec := func(q string, args ...any) error {
		_, err := db.Exec(fmt.Sprintf(q, args...))
		return err
	}
	if err := exec(`SET threads = 2`); err != nil {
		return err
	}
	load := func(table, path string) error {
		if path == "" {
			return exec(`CREATE TABLE %s AS SELECT * FROM cur WHERE false`, table)
		}
		return exec(`CREATE TABLE %s AS SELECT * FROM read_csv('%s', header = true, all_varchar = true)`, table, strings.ReplaceAll(path, "'", "''"))
	}
	if err := load("cur", cur); err != nil {
		return err
	}
	if err := load("prev", prev); err != nil {
		return err
	}
	counts := map[string]int{}
	samples := map[string][]string{}
	for target, q := range desired {
		if err := exec(`CREATE TABLE d1_%[1]s AS `+q+`; CREATE TABLE d0_%[1]s AS `+strings.ReplaceAll(q, "%s", "prev"), target, "cur"); err != nil {
			return err
		}
		diff := fmt.Sprintf(`SELECT CASE WHEN o.k IS NULL THEN 'create' WHEN n.k IS NULL THEN 'disable' ELSE 'update' END AS action,
			coalesce(n.k, o.k) AS k, NULL AS grp, n.a1, n.a2, n.a3, n.a4, n.a5, n.a6, n.a7, n.a8, n.a9, n.a10
			FROM d1_%[1]s n FULL OUTER JOIN d0_%[1]s o ON n.k = o.k
			WHERE o.k IS NULL OR n.k IS NULL OR (n.a1, n.a2, n.a3, n.a4, n.a5, n.a6, n.a7, n.a8, n.a9, n.a10)
			    IS DISTINCT FROM (o.a1, o.a2, o.a3, o.a4, o.a5, o.a6, o.a7, o.a8, o.a9, o.a10)`, target)
		if target == "directory" {
			// Memberships as sets, for identities in scope both times (a
			// leaver keeps its groups while disabled).
			const none = `NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL`
			diff += ` UNION ALL SELECT 'add-member', n.k, n.grp, ` + none + ` FROM d1_directory n LEFT JOIN d0_directory o ON n.k = o.k
				WHERE o.k IS NULL OR o.grp <> n.grp
				UNION ALL SELECT 'remove-member', n.k, o.grp, ` + none + ` FROM d1_directory n JOIN d0_directory o ON n.k = o.k WHERE o.grp <> n.grp
				UNION ALL SELECT 'group-create', g, g, ` + none + ` FROM (SELECT DISTINCT grp g FROM d1_directory EXCEPT SELECT DISTINCT grp FROM d0_directory)`
		}
		file := strings.ReplaceAll(filepath.Join(out, target+".jsonl"), "'", "''")
		if err := exec(`CREATE TABLE diff_%s AS %s; COPY diff_%[1]s TO '%[3]s' (FORMAT JSON)`, target, diff, file); err != nil {
			return fmt.Errorf("%s: %w", target, err)
		}
		rows, err := db.Query(fmt.Sprintf(`SELECT action, count(*), list(k ORDER BY k)[1:5] FROM diff_%s GROUP BY action`, target))
		if err != nil {
			return fmt.Errorf("%s: %w", target, err)
		}
		for rows.Next() {
			var action string
			var n int
			var keys []any
			if err := rows.Scan(&action, &n, &keys); err != nil {
				return err
			}
			counts[target+"/"+action] = n
			for _, k := range keys {
				samples[target+"/"+action] = append(samples[target+"/"+action], fmt.Sprint(k))
			}
		}
		if err := rows.Close(); err != nil {
			return err
		}
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]any{"counts": counts, "samples": samples})
}
