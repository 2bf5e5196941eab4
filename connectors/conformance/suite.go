package conformance

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/idsync/idsync/connectors"
)

// MemberLister is what the suite needs to check memberships; targets with
// groups implement it (it is a test hook, not part of the contract).
type MemberLister interface {
	Members(ctx context.Context, groupID string) ([]string, error)
}

// Open returns a fresh, empty target that manages the attributes named in
// Options. The suite closes it.
type Open func(t *testing.T) connectors.Target

// Options name the three attributes the suite writes, in the target's own
// spelling, and what the system cannot do.
type Options struct {
	UserName, DisplayName, Department string
	// EscapesBreakMatch is set for servers known to mis-handle an escaped
	// character (a quote or backslash) in a filter value: a lookup of such a
	// value may then find nothing, though it must never find a wrong object.
	EscapesBreakMatch bool
}

// Defaults are the plain names the SQL targets use.
var Defaults = Options{UserName: "userName", DisplayName: "displayName", Department: "department"}

// names is the suite's view of Options; a package variable would race
// between parallel suites, so it travels with each case.
type suite struct {
	o Options
}

// hostile values must round-trip byte for byte and match nothing extra.
var hostile = []string{`*)(uid=*`, `x" or userName pr "`, `O'Brien; DROP TABLE users; --`, "Zoë Łukasz 東京", `back\slash`}

// Run runs every conformance case. Every case runs: a target that lacks a
// capability a case needs (Reader, Matcher, ...) fails it, because the
// engine relies on each of them for matching, adoption and crash recovery.
func Run(t *testing.T, open Open, o Options) {
	su := suite{o: o}
	cases := map[string]func(t *testing.T, tg connectors.Target){
		"create then read back":           su.createReadBack,
		"update writes only its changes":  su.updateOnlyChanges,
		"disable and enable":              su.disableEnable,
		"delete, then gone":               su.deleteGone,
		"ops on a missing object":         su.missingObject,
		"match finds exactly one":         su.matchExact,
		"batch match agrees with match":   su.matchMany,
		"hostile values round-trip":       su.hostileValues,
		"groups and batched members":      su.groupMembers,
		"created objects carry their key": su.findKey,
	}
	for name, fn := range cases {
		t.Run(name, func(t *testing.T) {
			tg := open(t)
			t.Cleanup(func() {
				if err := tg.Close(); err != nil {
					t.Errorf("close: %v", err)
				}
			})
			fn(t, tg)
		})
	}
}

// capability returns tg as the interface a case needs, failing the case
// when the target does not implement it.
func capability[C any](t *testing.T, tg connectors.Target, name string) C {
	t.Helper()
	c, ok := tg.(C)
	if !ok {
		t.Fatalf("target %T does not implement %s, which idsync needs from every target this suite runs on", tg, name)
	}
	return c
}

func apply(t *testing.T, tg connectors.Target, op connectors.Op) string {
	t.Helper()
	res, err := tg.Apply(t.Context(), op)
	if err != nil {
		t.Fatalf("%s %s: %v", op.Action, op.Key, err)
	}
	return res.ID
}

// create makes a user; attrs use the suite's logical names (userName,
// displayName, department), mapped to the target's.
func (su suite) create(t *testing.T, tg connectors.Target, key string, attrs connectors.Attrs) string {
	t.Helper()
	op := connectors.Op{Action: connectors.Create, Key: key}
	for _, name := range []string{"userName", "displayName", "department"} {
		if v, ok := attrs[name]; ok {
			op.Changes = append(op.Changes, connectors.Change{Attr: su.name(name), New: v})
		}
	}
	id := apply(t, tg, op)
	if id == "" {
		t.Fatalf("create %s returned no id", key)
	}
	return id
}

// name maps a logical attribute name to the target's.
func (su suite) name(logical string) string {
	switch logical {
	case "userName":
		return su.o.UserName
	case "displayName":
		return su.o.DisplayName
	case "department":
		return su.o.Department
	}
	return logical
}

// logical maps an object's attributes back to the suite's names.
func (su suite) logical(a connectors.Attrs) connectors.Attrs {
	out := connectors.Attrs{}
	for _, n := range []string{"userName", "displayName", "department"} {
		if v, ok := a[su.name(n)]; ok {
			out[n] = v
		}
	}
	return out
}

func reader(t *testing.T, tg connectors.Target) connectors.Reader {
	t.Helper()
	r := capability[connectors.Reader](t, tg, "Reader")
	return r
}

func get(t *testing.T, tg connectors.Target, id string) connectors.Object {
	t.Helper()
	obj, err := reader(t, tg).Get(t.Context(), id)
	if err != nil {
		t.Fatalf("get %s: %v", id, err)
	}
	return obj
}

func (su suite) createReadBack(t *testing.T, tg connectors.Target) {
	want := connectors.Attrs{"userName": "ann", "displayName": "Ann Smith", "department": "Sales"}
	id := su.create(t, tg, "E1", want)
	obj := get(t, tg, id)
	if diff := cmp.Diff(want, su.logical(obj.Attrs)); diff != "" || obj.Disabled {
		t.Errorf("read back (-want +got):\n%s (disabled=%v)", diff, obj.Disabled)
	}
	if other := su.create(t, tg, "E2", connectors.Attrs{"userName": "bo"}); other == id {
		t.Errorf("two creates got the same id %s", id)
	}
}

func (su suite) updateOnlyChanges(t *testing.T, tg connectors.Target) {
	id := su.create(t, tg, "E1", connectors.Attrs{"userName": "ann", "displayName": "Ann", "department": "Sales"})
	apply(t, tg, connectors.Op{Action: connectors.Update, Key: "E1", ID: id,
		Changes: []connectors.Change{{Attr: su.name("department"), Old: "Sales", New: "Legal"}}})
	want := connectors.Attrs{"userName": "ann", "displayName": "Ann", "department": "Legal"}
	if diff := cmp.Diff(want, su.logical(get(t, tg, id).Attrs)); diff != "" {
		t.Errorf("after update (-want +got):\n%s", diff)
	}
}

func (su suite) disableEnable(t *testing.T, tg connectors.Target) {
	id := su.create(t, tg, "E1", connectors.Attrs{"userName": "ann"})
	apply(t, tg, connectors.Op{Action: connectors.Disable, Key: "E1", ID: id})
	if !get(t, tg, id).Disabled {
		t.Errorf("after disable: object is enabled")
	}
	apply(t, tg, connectors.Op{Action: connectors.Enable, Key: "E1", ID: id})
	if get(t, tg, id).Disabled {
		t.Errorf("after enable: object is disabled")
	}
}

func (su suite) deleteGone(t *testing.T, tg connectors.Target) {
	id := su.create(t, tg, "E1", connectors.Attrs{"userName": "ann"})
	apply(t, tg, connectors.Op{Action: connectors.Delete, Key: "E1", ID: id})
	if _, err := reader(t, tg).Get(t.Context(), id); !errors.Is(err, connectors.ErrNotFound) {
		t.Errorf("get after delete: err = %v, want ErrNotFound", err)
	}
}

// missingObject: every op on an id that does not exist reports ErrNotFound,
// which the engine treats as success for delete and as drift otherwise.
func (su suite) missingObject(t *testing.T, tg connectors.Target) {
	id := su.create(t, tg, "E1", connectors.Attrs{"userName": "ann"})
	apply(t, tg, connectors.Op{Action: connectors.Delete, Key: "E1", ID: id})
	for _, op := range []connectors.Op{
		{Action: connectors.Delete, Key: "E1", ID: id},
		{Action: connectors.Update, Key: "E1", ID: id, Changes: []connectors.Change{{Attr: su.name("department"), New: "X"}}},
		{Action: connectors.Disable, Key: "E1", ID: id},
	} {
		if _, err := tg.Apply(t.Context(), op); !errors.Is(err, connectors.ErrNotFound) {
			t.Errorf("%s of a missing object: err = %v, want ErrNotFound", op.Action, err)
		}
	}
}

func (su suite) matchExact(t *testing.T, tg connectors.Target) {
	m := capability[connectors.Matcher](t, tg, "Matcher")
	id := su.create(t, tg, "E1", connectors.Attrs{"userName": "ann"})
	su.create(t, tg, "E2", connectors.Attrs{"userName": "anna"}) // a prefix is no match
	match := func(ctx context.Context, v string) ([]connectors.Object, error) {
		return m.Match(ctx, su.o.UserName, v)
	}
	findsExactly(t, "Match", match, "ann", id, "nobody")
}

// findsExactly checks a lookup: hit finds exactly the object want, and
// miss finds nothing.
func findsExactly(t *testing.T, what string, lookup func(context.Context, string) ([]connectors.Object, error), hit, want, miss string) {
	t.Helper()
	found, err := lookup(t.Context(), hit)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || found[0].ID != want {
		t.Errorf("%s(%q) = %+v, want exactly object %s", what, hit, found, want)
	}
	if found, err := lookup(t.Context(), miss); err != nil || len(found) != 0 {
		t.Errorf("%s(%q) = %+v, %v; want nothing", what, miss, found, err)
	}
}

func (su suite) matchMany(t *testing.T, tg connectors.Target) {
	bm := capability[connectors.BatchMatcher](t, tg, "BatchMatcher")
	a := su.create(t, tg, "E1", connectors.Attrs{"userName": "ann"})
	b := su.create(t, tg, "E2", connectors.Attrs{"userName": "bo"})
	values := []connectors.Value{"bo", "nobody", "ann", hostile[0]}
	got, err := bm.MatchMany(t.Context(), su.o.UserName, values)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([][]string, len(got))
	for i, objs := range got {
		for _, o := range objs {
			ids[i] = append(ids[i], o.ID)
		}
	}
	if diff := cmp.Diff([][]string{{b}, nil, {a}, nil}, ids); diff != "" {
		t.Errorf("MatchMany ids per value (-want +got):\n%s", diff)
	}
}

func (su suite) groupMembers(t *testing.T, tg connectors.Target) {
	ml := capability[MemberLister](t, tg, "MemberLister")
	var users []string
	for _, k := range []string{"E1", "E2", "E3"} {
		users = append(users, su.create(t, tg, k, connectors.Attrs{"userName": k}))
	}
	gid := apply(t, tg, connectors.Op{Action: connectors.Create, Object: connectors.Group, Key: "Sales", Group: "Sales"})
	if again := apply(t, tg, connectors.Op{Action: connectors.Create, Object: connectors.Group, Key: "Sales", Group: "Sales"}); again != gid {
		t.Errorf("creating an existing group: id %s, want the existing %s", again, gid)
	}
	apply(t, tg, connectors.Op{Action: connectors.AddMember, Object: connectors.Group, Key: "Sales", ID: gid, Members: users})
	apply(t, tg, connectors.Op{Action: connectors.AddMember, Object: connectors.Group, Key: "Sales", ID: gid, Members: users[:1]})
	apply(t, tg, connectors.Op{Action: connectors.RemoveMember, Object: connectors.Group, Key: "Sales", ID: gid, Members: users[1:2]})
	got, err := ml.Members(t.Context(), gid)
	if err != nil {
		t.Fatal(err)
	}
	// Membership is a set; a lenient server may list a re-added member
	// twice, which changes nothing about who is in the group.
	got = slices.Compact(got)
	if diff := cmp.Diff([]string{users[0], users[2]}, got); diff != "" {
		t.Errorf("members (-want +got):\n%s", diff)
	}
	apply(t, tg, connectors.Op{Action: connectors.Delete, Key: "E1", ID: users[0]})
	if got, _ := ml.Members(t.Context(), gid); !cmp.Equal([]string{users[2]}, got) {
		t.Errorf("after deleting a member: members %v, want [%s]", got, users[2])
	}
	apply(t, tg, connectors.Op{Action: connectors.Delete, Object: connectors.Group, Key: "Sales", ID: gid})
	if _, err := tg.Apply(t.Context(), connectors.Op{Action: connectors.AddMember, Object: connectors.Group, ID: gid, Members: users[2:]}); !errors.Is(err, connectors.ErrNotFound) {
		t.Errorf("adding to a deleted group: err = %v, want ErrNotFound", err)
	}
}

func (su suite) findKey(t *testing.T, tg connectors.Target) {
	kf := capability[connectors.KeyFinder](t, tg, "KeyFinder")
	id := su.create(t, tg, "E1", connectors.Attrs{"userName": "ann"})
	su.create(t, tg, "E10", connectors.Attrs{"userName": "bo"}) // E1 is its prefix
	findsExactly(t, "FindKey", kf.FindKey, "E1", id, "E2")
}

func (su suite) hostileValues(t *testing.T, tg connectors.Target) {
	ids := map[string]string{}
	for i, v := range hostile {
		ids[v] = su.create(t, tg, "H"+string(rune('0'+i)), connectors.Attrs{"userName": v, "displayName": v})
		if got := get(t, tg, ids[v]).Attrs[su.o.DisplayName]; got != v {
			t.Errorf("value %q read back as %q", v, got)
		}
	}
	m, ok := tg.(connectors.Matcher)
	if !ok {
		return
	}
	for _, v := range hostile {
		found, err := m.Match(t.Context(), su.o.UserName, v)
		if err != nil {
			t.Fatalf("match %q: %v", v, err)
		}
		if len(found) > 1 || (len(found) == 1 && found[0].ID != ids[v]) {
			t.Errorf("match %q: found %+v, want only object %s: a hostile value matched something extra", v, found, ids[v])
		}
		excused := su.o.EscapesBreakMatch && strings.ContainsAny(v, `"\`)
		if len(found) == 0 && !excused {
			t.Errorf("match %q: found nothing, want object %s", v, ids[v])
		}
	}
}
