package pipeline

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/idsync/idsync/connectors"
	"github.com/idsync/idsync/connectors/scim"
	"github.com/idsync/idsync/connectors/scim/scimtest"
)

const enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

var scimServers = map[string]func(testing.TB) *scimtest.Server{
	"strict":  scimtest.StartStrict,
	"lenient": scimtest.StartLenient,
}

// onEachSCIMServer runs fn as a subtest against a fresh server of each kind.
func onEachSCIMServer(t *testing.T, fn func(t *testing.T, s *scimtest.Server)) {
	for name, start := range scimServers {
		t.Run(name, func(t *testing.T) { fn(t, start(t)) })
	}
}

// scimConfig is the quickstart policy for a SCIM app: core, multi-valued
// and enterprise-extension attributes, a manager reference, and groups
// larger than one membership request.
func scimConfig(s *scimtest.Server, auth string) string {
	return fmt.Sprintf(`state: state
sources:
  hr:
    type: csv
    path: ${env:HR_FILE:-hr.csv}
    key: employeeId
    schema: {employeeId: string, givenName: string, surname: string, department: string, title: string,
             managerId: string, status: string, hireDate: timestamp, country: string}
targets:
  app:
    type: scim
    %s
    timeout: 1s
    concurrency: 8
    rateLimit: 500
    membersPerRequest: 7
    source: hr
    scope: 'user.status != "Terminated"'
    enabled: 'user.status == "Active"'
    match: userName
    attributes:
      userName: 'lowerAscii(user.employeeId)'
      displayName: 'user.givenName + " " + user.surname'
      name.givenName: user.givenName
      name.familyName: user.surname
      emails[type eq "work"].value: 'lowerAscii(stripSpaces(normalizeDiacritics(user.givenName + "." + user.surname))) + "@example.com"'
      title: user.title
      %s:department: user.department
    references:
      %s:manager: user.managerId
    groups: '[user.department]'
`, s.Connection(auth), enterprise, enterprise)
}

// scimFixture is a quickstart-sized population against one server.
func scimFixture(t *testing.T, s *scimtest.Server, n int, auth string) (*fixture, map[string]map[string]string, map[string]map[string]string) {
	t.Helper()
	day1, day2 := quickstartFiles(t, n)
	f := newFixture(t, map[string]string{"idsync.yaml": scimConfig(s, auth), "hr.csv": day1, "hr-day2.csv": day2})
	return f, readCSV(t, filepath.Join(f.dir, "hr.csv")), readCSV(t, filepath.Join(f.dir, "hr-day2.csv"))
}

// quickstartFiles returns the first n people of the quickstart's two days.
func quickstartFiles(t *testing.T, n int) (string, string) {
	t.Helper()
	var out [2]string
	for i, name := range []string{"hr.csv", "hr-day2.csv"} {
		data, err := os.ReadFile(filepath.Join("../testdata/quickstart", name))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.SplitAfter(string(data), "\n")
		keep := lines[:min(n+1, len(lines))]
		if i == 1 { // day 2's hires are appended at the end: keep them too
			keep = append(keep, lines[1001:]...)
		}
		out[i] = strings.Join(keep, "")
	}
	return out[0], out[1]
}

// checkServer compares every user the server holds with what the policy
// says the people in want must look like.
func checkServer(t *testing.T, s *scimtest.Server, want map[string]map[string]string) {
	t.Helper()
	users := s.Users()
	byName := map[string]map[string]any{}
	idToName := map[string]string{}
	for id, u := range users {
		name := fmt.Sprint(u["userName"])
		if _, dup := byName[name]; dup {
			t.Errorf("%s: userName %s exists twice", s.Name, name)
		}
		byName[name], idToName[id] = u, name
	}
	got, exp := map[string]string{}, map[string]string{}
	for name, u := range byName {
		ext, _ := u[enterprise].(map[string]any)
		mgr, _ := ext["manager"].(map[string]any)
		got[name] = fmt.Sprintf("active=%v dept=%v manager=%v title=%v", u["active"], ext["department"], idToName[fmt.Sprint(mgr["value"])], u["title"])
	}
	for key, r := range want {
		if r["status"] == "Terminated" {
			continue // never provisioned in these scenarios, or disabled: checked by active below
		}
		manager := ""
		if m := want[r["managerId"]]; m != nil && m["status"] != "Terminated" {
			manager = strings.ToLower(r["managerId"])
		}
		exp[strings.ToLower(key)] = fmt.Sprintf("active=%v dept=%s manager=%s title=%s", r["status"] == "Active", r["department"], manager, r["title"])
	}
	for name := range got {
		if _, ok := exp[name]; !ok {
			// A leaver: present, and disabled.
			if !strings.HasPrefix(got[name], "active=false") {
				t.Errorf("%s: %s should be disabled: %s", s.Name, name, got[name])
			}
			delete(got, name)
		}
	}
	if diff := cmp.Diff(exp, got); diff != "" {
		t.Errorf("%s: users on the server (-want +got):\n%s", s.Name, diff)
	}
	checkGroups(t, s, users)
}

// checkGroups holds that each department group lists exactly the users
// whose department it is (leavers keep their groups while disabled).
func checkGroups(t *testing.T, s *scimtest.Server, users map[string]map[string]any) {
	t.Helper()
	want, got := map[string][]string{}, map[string][]string{}
	for id, u := range users {
		ext, _ := u[enterprise].(map[string]any)
		d := fmt.Sprint(ext["department"])
		want[d] = append(want[d], id)
	}
	for _, g := range s.Groups() {
		members, _ := g["members"].([]any)
		name := fmt.Sprint(g["displayName"])
		got[name] = []string{}
		for _, m := range members {
			got[name] = append(got[name], fmt.Sprint(m.(map[string]any)["value"]))
		}
	}
	for _, m := range []map[string][]string{want, got} {
		for k := range m {
			slices.Sort(m[k])
			m[k] = slices.Compact(m[k])
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s: group members (-want +got):\n%s", s.Name, diff)
	}
}

func TestSCIMQuickstartEndToEnd(t *testing.T) {
	onEachSCIMServer(t, func(t *testing.T, s *scimtest.Server) {
		f, day1, day2 := scimFixture(t, s, 120, "")
		f.apply(nil, ApplyOptions{})
		checkServer(t, s, day1)
		if ops := opList(f.plan(nil)); len(ops) != 0 {
			t.Fatalf("day 1 again: %d ops, want none: %v", len(ops), ops)
		}
		creates := s.Creates()
		env := map[string]string{"HR_FILE": "hr-day2.csv"}
		f.apply(env, ApplyOptions{})
		checkServer(t, s, day2)
		if ops := opList(f.plan(env)); len(ops) != 0 {
			t.Fatalf("day 2 again: %d ops, want none: %v", len(ops), ops)
		}
		// Creates are exactly the people in scope on day 2 who never had
		// an account: the hires, and a rehire terminated before day 1.
		want := 0
		for key, r := range day2 {
			if r["status"] != "Terminated" && (day1[key] == nil || day1[key]["status"] == "Terminated") {
				want++
			}
		}
		if got := s.Creates() - creates; got != int64(want) || want < 15 {
			t.Errorf("day 2 created %d users, want %d (at least the 15 hires)", got, want)
		}
	})
}

// TestSCIMBulk runs the quickstart with bulk on: scimmy offers Bulk, so
// ops travel in Bulk requests; the strict server does not, so they do not.
func TestSCIMBulk(t *testing.T) {
	onEachSCIMServer(t, func(t *testing.T, s *scimtest.Server) {
		f, day1, day2 := scimFixture(t, s, 120, "")
		f.write(map[string]string{"idsync.yaml": strings.Replace(scimConfig(s, ""), "    concurrency: 8\n", "    concurrency: 8\n    bulk: true\n", 1)})
		f.apply(nil, ApplyOptions{})
		checkServer(t, s, day1)
		f.apply(map[string]string{"HR_FILE": "hr-day2.csv"}, ApplyOptions{})
		checkServer(t, s, day2)
		bulks := s.Requests("POST", "/Bulk")
		if lenient := strings.HasPrefix(s.Name, "lenient"); lenient && bulks == 0 || !lenient && bulks != 0 {
			t.Errorf("%s: %d Bulk requests", s.Name, bulks)
		}
	})
}

func TestSCIMAdoptionAndConflict(t *testing.T) {
	onEachSCIMServer(t, func(t *testing.T, s *scimtest.Server) {
		f, day1, _ := scimFixture(t, s, 20, "")
		app := openSCIM(t, s)
		// A user the app already had: planned as an adoption.
		mustApply(t, app, connectors.Op{Action: connectors.Create, Key: "x", Changes: []connectors.Change{{Attr: "userName", New: "e100003"}, {Attr: "title", New: "Old"}}})
		e := f.engine(nil)
		p, err := e.Plan(t.Context(), PlanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(strings.Join(opList(p), "\n"), "app adopt E100003 ") {
			t.Fatalf("plan does not adopt E100003:\n%s", strings.Join(opList(p), "\n"))
		}
		// Another appears between plan and apply: the create gets a 409
		// and adopts it instead of failing or duplicating.
		mustApply(t, app, connectors.Op{Action: connectors.Create, Key: "y", Changes: []connectors.Change{{Attr: "userName", New: "e100005"}}})
		rep, err := e.Apply(t.Context(), p, ApplyOptions{})
		if err != nil || rep.Failed() != 0 {
			t.Fatalf("apply: %v, %d failed: %v", err, rep.Failed(), rep.Targets[0].Failed)
		}
		checkServer(t, s, day1)
	})
}

func TestSCIMFaultsAreRetriedPolitely(t *testing.T) {
	onEachSCIMServer(t, func(t *testing.T, s *scimtest.Server) {
		f, day1, _ := scimFixture(t, s, 30, "")
		s.Inject(
			scimtest.Fault{Status: 429, RetryAfter: "1", Method: "POST"},
			scimtest.Fault{Status: 429, RetryAfter: "1", Method: "POST"},
			scimtest.Fault{Status: 500, Method: "PATCH"},
			scimtest.Fault{Status: 503, Method: "POST"},
			scimtest.Fault{Hang: 3 * time.Second, Method: "POST"}, // past the 1s timeout
			scimtest.Fault{Reset: true, Method: "PATCH"},
		)
		start := time.Now()
		_, rep := f.apply(nil, ApplyOptions{Backoff: 50 * time.Millisecond})
		if took := time.Since(start); took < time.Second {
			t.Errorf("apply took %v: a Retry-After of 1s was not honoured", took)
		}
		if rep.Failed() != 0 {
			t.Fatalf("%d ops failed after retries", rep.Failed())
		}
		checkServer(t, s, day1)
		if ops := opList(f.plan(nil)); len(ops) != 0 {
			t.Errorf("after faults: %d ops left, want none", len(ops))
		}
	})
}

func TestSCIMTerminalErrorsAreNotRetried(t *testing.T) {
	s := scimtest.StartStrict(t)
	f, _, _ := scimFixture(t, s, 5, "")
	s.Inject(scimtest.Fault{Status: 400, Method: "POST", Path: "/Users"})
	_, rep := applyAllowingFailures(t, f)
	var rejected []string
	for _, fl := range rep.Targets[0].Failed {
		switch {
		case strings.Contains(fl.Err.Error(), "HTTP 400: injected fault"):
			rejected = append(rejected, fl.Op.Key)
		case !strings.Contains(fl.Err.Error(), "has no object in the target"):
			t.Errorf("unexpected failure %s %s: %v", fl.Op.Action, fl.Op.Key, fl.Err)
		}
	}
	if len(rejected) != 1 {
		t.Fatalf("ops failed with the server's 400 detail: %v, want exactly one", rejected)
	}
	// Five people, five POSTs: the 400 was not retried.
	if s.Posts() != 5 || s.Creates() != 4 {
		t.Errorf("POST /Users: %d sent, %d created; want 5 and 4", s.Posts(), s.Creates())
	}
}

func TestSCIMExpiredOAuthTokenIsRefreshed(t *testing.T) {
	onEachSCIMServer(t, func(t *testing.T, s *scimtest.Server) {
		auth := fmt.Sprintf("oauth2: {tokenURL: %s, clientID: %s, clientSecret: %s}", s.TokenURL, scimtest.ClientID, scimtest.ClientSecret)
		f, _, day2 := scimFixture(t, s, 25, auth)
		f.apply(nil, ApplyOptions{})
		s.ExpireTokens()
		f.apply(map[string]string{"HR_FILE": "hr-day2.csv"}, ApplyOptions{})
		checkServer(t, s, day2)
	})
}

func openSCIM(t *testing.T, s *scimtest.Server) *scim.Target {
	t.Helper()
	tg, err := scim.Open(t.Context(), scim.Options{URL: s.URL, Bearer: scimtest.Token, CAFile: s.CAFile, Attributes: []string{"userName", "title"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tg.Close() })
	return tg
}

func mustApply(t *testing.T, tg connectors.Target, op connectors.Op) {
	t.Helper()
	if _, err := tg.Apply(t.Context(), op); err != nil {
		t.Fatal(err)
	}
}

// applyAllowingFailures plans and applies, returning failures to the test.
func applyAllowingFailures(t *testing.T, f *fixture) (*Engine, *Report) {
	t.Helper()
	e := f.engine(nil)
	p, err := e.Plan(t.Context(), PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := e.Apply(t.Context(), p, ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return e, rep
}

// TestSCIMETagsRecoverFromAConcurrentChange: with ETags, idsync sends
// If-Match; a change made behind its back makes the server answer 412, and
// idsync re-reads and applies its change once more.
func TestSCIMETagsRecoverFromAConcurrentChange(t *testing.T) {
	onEachSCIMServer(t, func(t *testing.T, s *scimtest.Server) {
		s.EnableETags()
		f, _, day2 := scimFixture(t, s, 40, "")
		f.apply(nil, ApplyOptions{})
		// Someone edits E100029 (whose manager day 2 changes) directly.
		app := openSCIM(t, s)
		var id string
		for uid, u := range s.Users() {
			if u["userName"] == "e100029" {
				id = uid
			}
		}
		mustApply(t, app, connectors.Op{Action: connectors.Update, Key: "x", ID: id, Changes: []connectors.Change{{Attr: "title", New: "Edited elsewhere"}}})
		_, rep := f.apply(map[string]string{"HR_FILE": "hr-day2.csv"}, ApplyOptions{})
		if rep.Failed() != 0 {
			t.Fatalf("%d ops failed", rep.Failed())
		}
		if s.PreconditionFailures() == 0 {
			t.Errorf("no 412 was sent: If-Match is not in use")
		}
		// The outside title edit is not idsync's (title did not change in
		// HR), so it stays; everything idsync manages is as the rules say.
		want := day2
		edited := map[string]string{}
		for k, v := range day2["E100029"] {
			edited[k] = v
		}
		edited["title"] = "Edited elsewhere"
		want["E100029"] = edited
		checkServer(t, s, want)
	})
}

// TestSCIMVanishedObjectIsRecreated: an update that gets a 404 means the
// object was deleted behind idsync's back; it is recreated in the same run
// and reported as drift.
func TestSCIMVanishedObjectIsRecreated(t *testing.T) {
	onEachSCIMServer(t, func(t *testing.T, s *scimtest.Server) {
		f, _, day2 := scimFixture(t, s, 40, "")
		f.apply(nil, ApplyOptions{})
		app := openSCIM(t, s)
		for id, u := range s.Users() {
			if u["userName"] == "e100029" { // day 2 changes its manager
				mustApply(t, app, connectors.Op{Action: connectors.Delete, Key: "x", ID: id})
			}
		}
		_, rep := f.apply(map[string]string{"HR_FILE": "hr-day2.csv"}, ApplyOptions{})
		if len(rep.Targets[0].Drift) != 1 || !strings.Contains(rep.Targets[0].Drift[0], "E100029") {
			t.Errorf("drift = %v, want E100029 reported", rep.Targets[0].Drift)
		}
		// Its manager reference and groups come back on the next run.
		f.apply(map[string]string{"HR_FILE": "hr-day2.csv"}, ApplyOptions{})
		checkServer(t, s, day2)
	})
}
