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
			ops = append(ops, plan.Op{Op: connectors.Op{Action: action, Key: k, Group: "eng"}})
			entries = append(entries, snapshots.Entry{Key: k, ID: "id-" + k})
		}
		if err := e.commitMembers("dir", "eng", ops, entries); err != nil {
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
