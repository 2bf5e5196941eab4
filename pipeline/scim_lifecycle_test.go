package pipeline

import (
	"bufio"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/idsync/idsync/connectors/scim/scimtest"
)

// lifecycleSCIM is testdata/lifecycle/idsync.yaml with a SCIM target: the
// same rules, SCIM attribute paths.
func lifecycleSCIM(s *scimtest.Server) string {
	return fmt.Sprintf(`state: state
randomSalt: lifecycle-demo-salt
sources:
  hr:
    type: csv
    path: ${env:HR_FILE}
    key: employeeId
    schema: {employeeId: string, givenName: string, surname: string, department: string, title: string,
             managerId: string, status: string, workerType: string, startDate: timestamp, country: string}
targets:
  app:
    type: scim
    %[1]s
    source: hr
    scope: 'user.status != "Terminated"'
    enabled: 'user.startDate <= now'
    match: %[2]s:employeeNumber
    attributes:
      %[2]s:employeeNumber: user.employeeId
      userName: >-
        selectUnique([
          lowerAscii(stripSpaces(normalizeDiacritics(user.givenName + "." + user.surname))),
          lowerAscii(stripSpaces(normalizeDiacritics(user.givenName + "." + user.surname))) + "2",
          lowerAscii(stripSpaces(normalizeDiacritics(user.givenName.substring(0, 1) + user.surname)))])
      displayName: 'titleCase(user.givenName + " " + user.surname)'
      title: {expr: user.title, default: Employee}
      %[2]s:department: user.department
      userType: user.workerType
      password: {expr: 'randomString(user.employeeId, 16)', createOnly: true, sensitive: true}
    references:
      %[2]s:manager: user.managerId
    groups: '["All Staff", user.department] + (user.workerType == "Contractor" ? ["Contractors"] : [])'
    deleteEmptyGroups: true
    deprovision: disable
    deleteAfter: 30d
`, s.Connection(""), enterprise)
}

// TestSCIMLifecycleMatchesSQLite runs the six-day lifecycle against each
// SCIM server and against SQLite, and holds that both end with the same
// people, attributes, managers, statuses and groups.
func TestSCIMLifecycleMatchesSQLite(t *testing.T) {
	days := lifecycleDays(t)
	files := map[string]string{}
	for _, d := range days {
		data, err := os.ReadFile(filepath.Join("../testdata/lifecycle", d.file))
		if err != nil {
			t.Fatal(err)
		}
		files[d.file] = string(data)
	}
	cfg, err := os.ReadFile("../testdata/lifecycle/idsync.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sq := newFixture(t, with(files, "idsync.yaml", string(cfg)))
	runDays(t, sq, days)
	want := sqliteDirectory(t, filepath.Join(sq.dir, "directory.db"))
	if len(want.People) != 8 || len(want.Groups) != 4 {
		t.Fatalf("the SQLite run ended with %d people and %d groups, want 8 and 4 (see testdata/lifecycle/final.golden)", len(want.People), len(want.Groups))
	}
	onEachSCIMServer(t, func(t *testing.T, s *scimtest.Server) {
		f := newFixture(t, with(files, "idsync.yaml", lifecycleSCIM(s)))
		runDays(t, f, days)
		if diff := cmp.Diff(want, scimDirectory(s)); diff != "" {
			t.Errorf("%s after six days (-sqlite +scim):\n%s", s.Name, diff)
		}
	})
}

type lifecycleDay struct {
	file string
	now  time.Time
}

func lifecycleDays(t *testing.T) []lifecycleDay {
	t.Helper()
	f, err := os.Open("../testdata/lifecycle/days.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var days []lifecycleDay
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		now, err := time.Parse(time.RFC3339, fields[1])
		if err != nil {
			t.Fatal(err)
		}
		days = append(days, lifecycleDay{file: fields[0], now: now})
	}
	return days
}

func with(m map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for a, b := range m {
		out[a] = b
	}
	return out
}

func runDays(t *testing.T, f *fixture, days []lifecycleDay) {
	t.Helper()
	for _, d := range days {
		e := f.engine(map[string]string{"HR_FILE": d.file})
		e.opts.Now = d.now
		p, err := e.Plan(t.Context(), PlanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		rep, err := e.Apply(t.Context(), p, ApplyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Failed() != 0 {
			t.Fatalf("%s: %d ops failed: %v", d.file, rep.Failed(), rep.Targets[0].Failed)
		}
	}
}

// A directory rendered for comparison: person -> attributes, and
// group -> sorted member names.
type directory struct {
	People map[string]string
	Groups map[string][]string
}

func sqliteDirectory(t *testing.T, path string) directory {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	d := directory{People: map[string]string{}, Groups: map[string][]string{}}
	rows, err := db.Query(`SELECT u."userName", u."displayName", u.title, u.department, u."employeeType", coalesce(m."userName", ''), u._disabled
		FROM users u LEFT JOIN users m ON m.id = u.manager`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name, display, title, dept, typ, manager string
		var disabled int
		if err := rows.Scan(&name, &display, &title, &dept, &typ, &manager, &disabled); err != nil {
			t.Fatal(err)
		}
		d.People[name] = fmt.Sprintf("%s|%s|%s|%s|manager=%s|active=%v", display, title, dept, typ, manager, disabled == 0)
	}
	rows.Close()
	rows, err = db.Query(`SELECT g.name, coalesce(u."userName", '') FROM users_groups g
		LEFT JOIN users_group_members gm ON gm.group_id = g.id LEFT JOIN users u ON u.id = gm.user_id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var g, u string
		if err := rows.Scan(&g, &u); err != nil {
			t.Fatal(err)
		}
		d.Groups[g] = appendSorted(d.Groups[g], u)
	}
	rows.Close()
	return d
}

func scimDirectory(s *scimtest.Server) directory {
	d := directory{People: map[string]string{}, Groups: map[string][]string{}}
	users := s.Users()
	names := map[string]string{}
	for id, u := range users {
		names[id] = fmt.Sprint(u["userName"])
	}
	for _, u := range users {
		ext, _ := u[enterprise].(map[string]any)
		mgr, _ := ext["manager"].(map[string]any)
		d.People[fmt.Sprint(u["userName"])] = fmt.Sprintf("%v|%v|%v|%v|manager=%s|active=%v",
			u["displayName"], u["title"], ext["department"], u["userType"], names[fmt.Sprint(mgr["value"])], u["active"])
	}
	for _, g := range s.Groups() {
		name := fmt.Sprint(g["displayName"])
		d.Groups[name] = appendSorted(d.Groups[name], "")
		members, _ := g["members"].([]any)
		for _, m := range members {
			d.Groups[name] = appendSorted(d.Groups[name], names[fmt.Sprint(m.(map[string]any)["value"])])
		}
	}
	return d
}

// appendSorted adds a member name ("" just makes the group exist).
func appendSorted(l []string, v string) []string {
	if l == nil {
		l = []string{}
	}
	if v != "" && !slices.Contains(l, v) {
		l = append(l, v)
		slices.Sort(l)
	}
	return l
}
