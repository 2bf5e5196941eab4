package conformance

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/idsync/idsync/connectors"
)

// MemberLister is what the suite needs to check memberships; targets with
// groups implement it (it is a test hook, not part of the contract).
type MemberLister interface {
	Members(ctx context.Context, groupID string) ([]string, error)
}

// Open returns a fresh, empty target whose attributes include "userName",
// "displayName" and "department". The suite closes it.
type Open func(t *testing.T) connectors.Target

// hostile values must round-trip byte for byte and match nothing extra.
var hostile = []string{`*)(uid=*`, `x" or userName pr "`, `O'Brien; DROP TABLE users; --`, "Zoë Łukasz 東京", `back\slash`}

// Run runs every conformance case. Cases needing an optional capability
// (Reader, Matcher) are skipped with the reason when the target lacks it.
func Run(t *testing.T, open Open) {
	cases := map[string]func(t *testing.T, tg connectors.Target){
		"create then read back":          createReadBack,
		"update writes only its changes": updateOnlyChanges,
		"disable and enable":             disableEnable,
		"delete, then gone":              deleteGone,
		"ops on a missing object":        missingObject,
		"match finds exactly one":        matchExact,
		"batch match agrees with match":  matchMany,
		"hostile values round-trip":      hostileValues,
		"groups and batched members":     groupMembers,
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

func apply(t *testing.T, tg connectors.Target, op connectors.Op) string {
	t.Helper()
	res, err := tg.Apply(t.Context(), op)
	if err != nil {
		t.Fatalf("%s %s: %v", op.Action, op.Key, err)
	}
	return res.ID
}

func create(t *testing.T, tg connectors.Target, key string, attrs connectors.Attrs) string {
	t.Helper()
	op := connectors.Op{Action: connectors.Create, Key: key}
	for _, name := range []string{"userName", "displayName", "department"} {
		if v, ok := attrs[name]; ok {
			op.Changes = append(op.Changes, connectors.Change{Attr: name, New: v})
		}
	}
	id := apply(t, tg, op)
	if id == "" {
		t.Fatalf("create %s returned no id", key)
	}
	return id
}

func reader(t *testing.T, tg connectors.Target) connectors.Reader {
	t.Helper()
	r, ok := tg.(connectors.Reader)
	if !ok {
		t.Skip("target cannot read objects back")
	}
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

func createReadBack(t *testing.T, tg connectors.Target) {
	want := connectors.Attrs{"userName": "ann", "displayName": "Ann Smith", "department": "Sales"}
	id := create(t, tg, "E1", want)
	obj := get(t, tg, id)
	if diff := cmp.Diff(want, obj.Attrs); diff != "" || obj.Disabled {
		t.Errorf("read back (-want +got):\n%s (disabled=%v)", diff, obj.Disabled)
	}
	if other := create(t, tg, "E2", connectors.Attrs{"userName": "bo"}); other == id {
		t.Errorf("two creates got the same id %s", id)
	}
}

func updateOnlyChanges(t *testing.T, tg connectors.Target) {
	id := create(t, tg, "E1", connectors.Attrs{"userName": "ann", "displayName": "Ann", "department": "Sales"})
	apply(t, tg, connectors.Op{Action: connectors.Update, Key: "E1", ID: id,
		Changes: []connectors.Change{{Attr: "department", Old: "Sales", New: "Legal"}}})
	want := connectors.Attrs{"userName": "ann", "displayName": "Ann", "department": "Legal"}
	if diff := cmp.Diff(want, get(t, tg, id).Attrs); diff != "" {
		t.Errorf("after update (-want +got):\n%s", diff)
	}
}

func disableEnable(t *testing.T, tg connectors.Target) {
	id := create(t, tg, "E1", connectors.Attrs{"userName": "ann"})
	apply(t, tg, connectors.Op{Action: connectors.Disable, Key: "E1", ID: id})
	if !get(t, tg, id).Disabled {
		t.Errorf("after disable: object is enabled")
	}
	apply(t, tg, connectors.Op{Action: connectors.Enable, Key: "E1", ID: id})
	if get(t, tg, id).Disabled {
		t.Errorf("after enable: object is disabled")
	}
}

func deleteGone(t *testing.T, tg connectors.Target) {
	id := create(t, tg, "E1", connectors.Attrs{"userName": "ann"})
	apply(t, tg, connectors.Op{Action: connectors.Delete, Key: "E1", ID: id})
	if _, err := reader(t, tg).Get(t.Context(), id); !errors.Is(err, connectors.ErrNotFound) {
		t.Errorf("get after delete: err = %v, want ErrNotFound", err)
	}
}

// missingObject: every op on an id that does not exist reports ErrNotFound,
// which the engine treats as success for delete and as drift otherwise.
func missingObject(t *testing.T, tg connectors.Target) {
	id := create(t, tg, "E1", connectors.Attrs{"userName": "ann"})
	apply(t, tg, connectors.Op{Action: connectors.Delete, Key: "E1", ID: id})
	for _, op := range []connectors.Op{
		{Action: connectors.Delete, Key: "E1", ID: id},
		{Action: connectors.Update, Key: "E1", ID: id, Changes: []connectors.Change{{Attr: "department", New: "X"}}},
		{Action: connectors.Disable, Key: "E1", ID: id},
	} {
		if _, err := tg.Apply(t.Context(), op); !errors.Is(err, connectors.ErrNotFound) {
			t.Errorf("%s of a missing object: err = %v, want ErrNotFound", op.Action, err)
		}
	}
}

func matchExact(t *testing.T, tg connectors.Target) {
	m, ok := tg.(connectors.Matcher)
	if !ok {
		t.Skip("target cannot match")
	}
	id := create(t, tg, "E1", connectors.Attrs{"userName": "ann"})
	create(t, tg, "E2", connectors.Attrs{"userName": "anna"})
	found, err := m.Match(t.Context(), "userName", "ann")
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || found[0].ID != id {
		t.Errorf("match ann: got %+v, want exactly object %s", found, id)
	}
	if found, _ := m.Match(t.Context(), "userName", "nobody"); len(found) != 0 {
		t.Errorf("match nobody: got %+v, want none", found)
	}
}

func matchMany(t *testing.T, tg connectors.Target) {
	bm, ok := tg.(connectors.BatchMatcher)
	if !ok {
		t.Skip("target cannot batch-match")
	}
	a := create(t, tg, "E1", connectors.Attrs{"userName": "ann"})
	b := create(t, tg, "E2", connectors.Attrs{"userName": "bo"})
	values := []connectors.Value{"bo", "nobody", "ann", hostile[0]}
	got, err := bm.MatchMany(t.Context(), "userName", values)
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

func groupMembers(t *testing.T, tg connectors.Target) {
	ml, ok := tg.(MemberLister)
	if !ok {
		t.Skip("target does not list members")
	}
	var users []string
	for _, k := range []string{"E1", "E2", "E3"} {
		users = append(users, create(t, tg, k, connectors.Attrs{"userName": k}))
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

func hostileValues(t *testing.T, tg connectors.Target) {
	for i, v := range hostile {
		id := create(t, tg, "H"+string(rune('0'+i)), connectors.Attrs{"userName": v, "displayName": v})
		if got := get(t, tg, id).Attrs["displayName"]; got != v {
			t.Errorf("value %q read back as %q", v, got)
		}
	}
	m, ok := tg.(connectors.Matcher)
	if !ok {
		return
	}
	for _, v := range hostile {
		found, err := m.Match(t.Context(), "userName", v)
		if err != nil {
			t.Fatalf("match %q: %v", v, err)
		}
		if len(found) != 1 {
			t.Errorf("match %q: %d objects, want exactly 1", v, len(found))
		}
	}
}
