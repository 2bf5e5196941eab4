package main

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/idsync/idsync/bench/population"
	"github.com/idsync/idsync/connectors/scim/scimtest"
	"github.com/idsync/idsync/connectors/sqlite"
	"github.com/idsync/idsync/snapshots"
)

// TestKill9 runs the real binary against real targets and SIGKILLs it at
// random moments, at least 20 times, restarting it each time, switching
// between two days' inputs so every restart has work left. Then it proves
// that the target holds exactly the desired state, that no object was
// created twice, and that the state store agrees with the target. The seed
// is printed; IDSYNC_CRASH_SEED replays one.
func TestKill9(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "idsync")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("IDSYNC_CRASH_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (IDSYNC_CRASH_SEED=%d replays it)", seed, seed)
	t.Run("sqlite", func(t *testing.T) { crashLoop(t, bin, seed, "sqlite", nil) })
	t.Run("scim", func(t *testing.T) {
		s := scimtest.StartStrict(t)
		s.Slow(time.Millisecond) // widen the window between send and commit
		crashLoop(t, bin, seed, "scim", s)
	})
}

func crashLoop(t *testing.T, bin string, seed uint64, kind string, s *scimtest.Server) {
	dir := t.TempDir()
	day := time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC)
	people := population.Generate(population.Options{N: 1500, Seed: 5, Today: day})
	days := [][]population.Person{people, population.Change(people, population.Changes{
		Hires: 300, Moves: 300, Renames: 100, ManagerChanges: 100, Terminations: 150, Rehires: 10}, 6, day)}
	for i, d := range days {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("day%d.csv", i)))
		if err != nil {
			t.Fatal(err)
		}
		if err := population.WriteCSV(f, d); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	target := "type: sqlite\n    path: dir.db"
	if s != nil {
		target = "type: scim\n    " + s.Connection("") + "\n    concurrency: 4"
	}
	cfg := fmt.Sprintf(`state: state
sources:
  hr:
    type: csv
    path: ${env:HR_FILE}
    key: employeeId
    schema: {employeeId: string, givenName: string, surname: string, department: string, title: string,
             managerId: string, status: string, hireDate: timestamp, country: string}
targets:
  app:
    %s
    source: hr
    scope: 'user.status != "Terminated"'
    attributes:
      userName: lowerAscii(user.employeeId)
      displayName: 'user.givenName + " " + user.surname'
      title: user.title
    groups: '[user.department]'
    safety: {maxDeletes: 100000}
`, target)
	if err := os.WriteFile(filepath.Join(dir, "idsync.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(seed, uint64(len(kind))))
	var lastErr bytes.Buffer
	apply := func(file string) *exec.Cmd {
		cmd := exec.Command(bin, "-c", filepath.Join(dir, "idsync.yaml"), "apply", "-q")
		cmd.Env = append(os.Environ(), "HR_FILE="+file)
		cmd.Stderr, cmd.Stdout = &lastErr, &lastErr
		lastErr.Reset()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	kills, current := 0, 0
	for kills < 20 {
		cmd := apply(fmt.Sprintf("day%d.csv", current))
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if code := cmd.ProcessState.ExitCode(); code != 0 {
				t.Fatalf("seed %d: a run exited %d: %v\n%s", seed, code, err, lastErr.String())
			}
			current = 1 - current // finished: switch days so there is work again
		case <-time.After(time.Duration(20+r.IntN(250)) * time.Millisecond):
			_ = cmd.Process.Signal(syscall.SIGKILL)
			<-done
			kills++
		}
	}
	// Finish on day 1 without interruption: then nothing may be left.
	env := append(os.Environ(), "HR_FILE=day1.csv")
	finish := exec.Command(bin, "-c", filepath.Join(dir, "idsync.yaml"), "apply", "-q")
	finish.Env = env
	if out, err := finish.CombinedOutput(); err != nil {
		t.Fatalf("seed %d: final apply: %v\n%s", seed, err, out)
	}
	final := exec.Command(bin, "-c", filepath.Join(dir, "idsync.yaml"), "plan")
	final.Env = env
	out, _ := final.CombinedOutput()
	if !strings.Contains(string(out), "app: no changes") {
		t.Fatalf("seed %d: after the last apply the plan still has changes:\n%s", seed, tail(out))
	}
	checkAgreement(t, seed, dir, kind, s, days)
	checkMemberships(t, seed, dir, kind, s, days[1])
}

// checkMemberships: every in-scope person of day 1 is in their
// department's group, and in no other. A kill between a user's create and
// its memberships must not leave them unsent for good (see
// snapshots.Seal): the plan after the last apply says no changes, so only
// the target can tell.
func checkMemberships(t *testing.T, seed uint64, dir, kind string, s *scimtest.Server, day []population.Person) {
	t.Helper()
	got := targetMemberships(t, dir, kind, s) // userName -> groups
	n := 0
	for _, p := range day {
		if p.Status == "Terminated" {
			continue
		}
		name := strings.ToLower(p.EmployeeID)
		if g := got[name]; len(g) != 1 || g[0] != p.Department {
			t.Errorf("seed %d: %s is in groups %q, want only [%s]", seed, name, g, p.Department)
		}
		n++
	}
	t.Logf("seed %d: %d people in their department's group", seed, n)
}

func targetMemberships(t *testing.T, dir, kind string, s *scimtest.Server) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	if kind == "scim" {
		names := map[string]string{}
		for id, u := range s.Users() {
			names[id] = fmt.Sprint(u["userName"])
		}
		for _, g := range s.Groups() {
			members, _ := g["members"].([]any)
			for _, m := range members {
				name := names[fmt.Sprint(m.(map[string]any)["value"])]
				out[name] = append(out[name], fmt.Sprint(g["displayName"]))
			}
		}
		return out
	}
	db, err := sql.Open("sqlite", filepath.Join(dir, "dir.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.QueryContext(t.Context(), `SELECT u."userName", g.name FROM users_group_members m
		JOIN users_groups g ON g.id = m.group_id JOIN users u ON u.id = m.user_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var user, group string
		if err := rows.Scan(&user, &group); err != nil {
			t.Fatal(err)
		}
		out[user] = append(out[user], group)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkAgreement: the state store and the target hold the same objects
// with the same attributes, every in-scope person of day 1 has exactly one
// object, and every object was created once.
func checkAgreement(t *testing.T, seed uint64, dir, kind string, s *scimtest.Server, days [][]population.Person) {
	t.Helper()
	store, err := snapshots.Open(filepath.Join(dir, "state"), snapshots.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	state := map[string]snapshots.Entry{}
	if err := store.Scan("app", true, func(e snapshots.Entry) error { state[e.Key] = e; return nil }); err != nil {
		t.Fatal(err)
	}
	objects := targetObjects(t, dir, kind, s) // userName -> (id, displayName, title, disabled)
	everInScope := map[string]bool{}
	for _, d := range days {
		for _, p := range d {
			if p.Status != "Terminated" {
				everInScope[strings.ToLower(p.EmployeeID)] = true
			}
		}
	}
	if len(objects) != len(state) {
		t.Errorf("seed %d: target has %d objects, state has %d", seed, len(objects), len(state))
	}
	for key, e := range state {
		o, ok := objects[strings.ToLower(key)]
		var attrs map[string]any
		_ = json.Unmarshal(e.Attrs, &attrs)
		want := fmt.Sprintf("%s|%v|%v|%v", e.ID, attrs["displayName"], attrs["title"], e.Disabled)
		if !ok || o != want {
			t.Errorf("seed %d: %s: state says %s, target has %q", seed, key, want, o)
		}
	}
	for name := range objects {
		if !everInScope[name] {
			t.Errorf("seed %d: target object %s belongs to nobody ever in scope", seed, name)
		}
	}
	if s != nil && s.Creates() != int64(len(objects)) {
		t.Errorf("seed %d: the server received %d successful creates for %d objects: something was created twice", seed, s.Creates(), len(objects))
	}
	t.Logf("seed %d: %d objects, all agree", seed, len(objects))
}

func targetObjects(t *testing.T, dir, kind string, s *scimtest.Server) map[string]string {
	t.Helper()
	out := map[string]string{}
	add := func(name, id string, display, title any, disabled bool) {
		if _, dup := out[name]; dup {
			t.Errorf("object %s exists twice", name)
		}
		out[name] = fmt.Sprintf("%s|%v|%v|%v", id, display, title, disabled)
	}
	if kind == "scim" {
		for id, u := range s.Users() {
			add(fmt.Sprint(u["userName"]), id, u["displayName"], u["title"], u["active"] == false)
		}
		return out
	}
	objs, err := sqlite.ReadAll(t.Context(), sqlite.Options{Path: filepath.Join(dir, "dir.db"), Attributes: []string{"userName", "displayName", "title"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		add(fmt.Sprint(o.Attrs["userName"]), o.ID, o.Attrs["displayName"], o.Attrs["title"], o.Disabled)
	}
	return out
}

func tail(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-10):], "\n")
}
