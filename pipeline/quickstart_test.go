package pipeline

import (
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/idsync/idsync/connectors"
	"github.com/idsync/idsync/connectors/sqlite"
	"github.com/idsync/idsync/pipeline/diff"
	"github.com/idsync/idsync/rules"
)

// oracle is the quickstart policy written by hand in Go. The engine's CEL
// evaluation, hashing, state and diffing must agree with it exactly.
func oracle(r map[string]string) (inScope bool, attrs connectors.Attrs) {
	mail := strings.ReplaceAll(stripSpaces(rules.NormalizeDiacritics(r["givenName"]+"."+r["surname"])), "'", "")
	return r["status"] != "Terminated", connectors.Attrs{
		"userName":    strings.ToLower(r["employeeId"]),
		"displayName": r["givenName"] + " " + r["surname"],
		"mail":        strings.ToLower(mail) + "@example.com",
		"department":  r["department"],
		"title":       r["title"],
		"manager":     r["managerId"],
		"country":     r["country"],
		"hireDate":    r["hireDate"] + "T00:00:00Z",
		"active":      r["status"] == "Active",
	}
}

func stripSpaces(s string) string { return strings.Join(strings.Fields(s), "") }

var oracleAttrs = []string{"userName", "displayName", "mail", "department", "title", "manager", "country", "hireDate", "active"}

func readCSV(t *testing.T, path string) map[string]map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]string{}
	for _, row := range rows[1:] {
		r := map[string]string{}
		for i, h := range rows[0] {
			r[h] = row[i]
		}
		out[r["employeeId"]] = r
	}
	return out
}

// expectedOps derives, from two snapshots, the ops the quickstart policy
// implies: creates for new in-scope people, updates naming exactly the
// changed attributes, disables for leavers.
func expectedOps(day1, day2 map[string]map[string]string) []string {
	var out []string
	for key, r2 := range day2 {
		in2, a2 := oracle(r2)
		r1, had := day1[key]
		in1 := false
		var a1 connectors.Attrs
		if had {
			in1, a1 = oracle(r1)
		}
		switch {
		case !in1 && in2:
			var set []string // a create writes every non-empty attribute
			for _, name := range oracleAttrs {
				if a2[name] != "" {
					set = append(set, name)
				}
			}
			out = append(out, "directory create "+key+" "+strings.Join(set, ","))
		case in1 && !in2:
			out = append(out, "directory disable "+key)
		case in1 && in2:
			var changed []string
			for _, name := range oracleAttrs {
				if !diff.Equal(a1[name], a2[name], name == "mail") {
					changed = append(changed, name)
				}
			}
			if len(changed) > 0 {
				out = append(out, "directory update "+key+" "+strings.Join(changed, ","))
			}
		}
	}
	for key, r1 := range day1 {
		if in1, _ := oracle(r1); in1 && day2[key] == nil {
			out = append(out, "directory disable "+key)
		}
	}
	slices.Sort(out)
	return out
}

func TestQuickstartEndToEnd(t *testing.T) {
	files := map[string]string{}
	for _, name := range []string{"idsync.yaml", "hr.csv", "hr-day2.csv"} {
		data, err := os.ReadFile(filepath.Join("../testdata/quickstart", name))
		if err != nil {
			t.Fatal(err)
		}
		files[name] = string(data)
	}
	f := newFixture(t, files)
	day1 := readCSV(t, filepath.Join(f.dir, "hr.csv"))
	day2 := readCSV(t, filepath.Join(f.dir, "hr-day2.csv"))

	p, _ := f.apply(nil, ApplyOptions{})
	if diff := cmp.Diff(expectedOps(nil, day1), sorted(opList(p))); diff != "" {
		t.Fatalf("day 1 ops (-want +got):\n%s", diff)
	}
	if again := opList(f.plan(nil)); len(again) != 0 {
		t.Fatalf("day 1 again: %d ops, want none: %v", len(again), again[:min(5, len(again))])
	}
	env2 := map[string]string{"HR_FILE": "hr-day2.csv"}
	p2, _ := f.apply(env2, ApplyOptions{})
	want := expectedOps(day1, day2)
	if diff := cmp.Diff(want, sorted(opList(p2))); diff != "" {
		t.Fatalf("day 2 ops (-want +got):\n%s", diff)
	}
	if len(want) < 40 {
		t.Fatalf("day 2 implies only %d ops; the fixture should exercise every kind", len(want))
	}
	if again := opList(f.plan(env2)); len(again) != 0 {
		t.Fatalf("day 2 again: %d ops, want none", len(again))
	}
	checkDirectory(t, filepath.Join(f.dir, "directory.db"), day1, day2)
}

// checkDirectory reads the SQLite table back and compares every row with
// what the oracle says it must hold after day 2.
func checkDirectory(t *testing.T, path string, day1, day2 map[string]map[string]string) {
	t.Helper()
	objs, err := sqlite.ReadAll(t.Context(), sqlite.Options{Path: path, Attributes: oracleAttrs})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, o := range objs {
		got[o.Attrs["userName"].(string)] = render(o.Attrs, o.Disabled)
	}
	want := map[string]string{}
	for key, r := range day2 {
		in, attrs := oracle(r)
		if in {
			want[strings.ToLower(key)] = render(attrs, false)
		} else if in1, a1 := oracle(orEmpty(day1[key])); in1 {
			want[strings.ToLower(key)] = render(a1, true) // disabled, last values kept
		}
	}
	for key, r := range day1 {
		if in1, a1 := oracle(r); in1 && day2[key] == nil {
			want[strings.ToLower(key)] = render(a1, true)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("directory rows (-want +got):\n%s", diff)
	}
}

func orEmpty(r map[string]string) map[string]string {
	if r == nil {
		return map[string]string{"status": "Terminated"}
	}
	return r
}

// render flattens a row for comparison; SQLite returns booleans as 0/1.
func render(a connectors.Attrs, disabled bool) string {
	var b strings.Builder
	for _, name := range oracleAttrs {
		v := a[name]
		switch v {
		case int64(1):
			v = true
		case int64(0):
			v = false
		case nil:
			v = ""
		}
		fmt.Fprintf(&b, "%s=%v;", name, v)
	}
	if disabled {
		b.WriteString("disabled")
	}
	return b.String()
}

func sorted(s []string) []string {
	slices.Sort(s)
	return s
}
