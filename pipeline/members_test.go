package pipeline

import (
	"slices"
	"testing"

	"github.com/idsync/idsync/connectors"
	"github.com/idsync/idsync/pipeline/plan"
	"github.com/idsync/idsync/snapshots"
)

// TestMemberCountsFollowTheGroups: a group's member count, which
// deleteEmptyGroups trusts, changes only when a user's groups do, however
// often a membership is committed.
func TestMemberCountsFollowTheGroups(t *testing.T) {
	st := memoryStore(t)
	e := &Engine{store: st}
	if err := st.Commit("dir", snapshots.Change{Group: &snapshots.GroupEntry{Name: "eng", ID: "g1"}}); err != nil {
		t.Fatal(err)
	}
	commit := func(action connectors.Action, keys ...string) {
		t.Helper()
		var ops []plan.Op
		var entries []snapshots.Entry
		for _, k := range keys {
			ops = append(ops, plan.NewOp(connectors.Op{Action: action, Key: k, Group: "eng"}, nil))
			entries = append(entries, snapshots.Entry{Key: k, ID: "id-" + k})
		}
		if err := e.commitMembers("dir", "eng", ops, entries, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	check := func(step string, want int64, members ...string) {
		t.Helper()
		g, _, err := st.Group("dir", "eng")
		if err != nil {
			t.Fatal(err)
		}
		if g.Members != want {
			t.Errorf("%s: count %d, want %d", step, g.Members, want)
		}
		for _, k := range []string{"E1", "E2", "E3"} {
			groups, err := st.Groups("dir", k)
			if err != nil {
				t.Fatal(err)
			}
			if in := slices.Contains(groups, "eng"); in != slices.Contains(members, k) {
				t.Errorf("%s: %s in eng = %v", step, k, in)
			}
		}
	}
	commit(connectors.AddMember, "E1", "E2")
	check("two added", 2, "E1", "E2")
	commit(connectors.AddMember, "E1")
	check("E1 added again", 2, "E1", "E2")
	commit(connectors.RemoveMember, "E3")
	check("E3, not a member, removed", 2, "E1", "E2")
	commit(connectors.RemoveMember, "E1", "E2")
	check("both removed", 0)
}

// TestMembershipCommitsOfCreatedUsers: a user this apply created has no
// groups to read, and a membership commit of it trusts the created index
// for that. Once a commit has given it groups, the next reads them: a
// user added to two groups keeps both. A create the index does not know
// is read from the store.
func TestMembershipCommitsOfCreatedUsers(t *testing.T) {
	st := memoryStore(t)
	e := &Engine{store: st}
	for _, g := range []string{"eng", "ops"} {
		if err := st.Commit("dir", snapshots.Change{Group: &snapshots.GroupEntry{Name: g, ID: "id-" + g}}); err != nil {
			t.Fatal(err)
		}
	}
	var creates []plan.Op
	for _, k := range []string{"K1", "K2", "K3", "K4"} {
		creates = append(creates, plan.NewOp(connectors.Op{Action: connectors.Create, Key: k}, nil))
	}
	created := newCreatedIndex(creates)
	for i, k := range []string{"K1", "K2", "K3"} { // K4's create was not committed
		created.set(i, snapshots.Entry{Key: k, ID: "id-" + k})
	}
	// Groups the store holds against the index's word: for K3 the index
	// answers, so they are not read; for K4 the store does.
	for _, k := range []string{"K3", "K4"} {
		if err := st.Commit("dir", snapshots.Change{Entry: snapshots.Entry{Key: k, Groups: []string{"old"}}, Parts: snapshots.PartGroups}); err != nil {
			t.Fatal(err)
		}
	}
	commit := func(group string, keys ...string) {
		t.Helper()
		var ops []plan.Op
		var entries []snapshots.Entry
		for _, k := range keys {
			ops = append(ops, plan.NewOp(connectors.Op{Action: connectors.AddMember, Key: k, Group: group}, nil))
			entries = append(entries, snapshots.Entry{Key: k, ID: "id-" + k})
		}
		if err := e.commitMembers("dir", group, ops, entries, created, nil); err != nil {
			t.Fatal(err)
		}
	}
	commit("eng", "K1", "K2", "K3", "K4")
	commit("ops", "K1", "K3", "K4")
	want := map[string][]string{"K1": {"eng", "ops"}, "K2": {"eng"}, "K3": {"eng", "ops"}, "K4": {"eng", "old", "ops"}}
	for k, w := range want {
		got, err := st.Groups("dir", k)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, w) {
			t.Errorf("%s: groups %q, want %q", k, got, w)
		}
	}
	for g, w := range map[string]int64{"eng": 4, "ops": 3} {
		got, _, err := st.Group("dir", g)
		if err != nil {
			t.Fatal(err)
		}
		if got.Members != w {
			t.Errorf("%s: %d members, want %d", g, got.Members, w)
		}
	}
}
