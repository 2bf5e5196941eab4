package pipeline

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// planOps plans at now and returns the ops.
func (f *fixture) planOps(env map[string]string, now time.Time) []string {
	f.t.Helper()
	p, err := f.planAt(env, now).Plan(f.t.Context(), PlanOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	return opList(p)
}

// TestGracePeriodEndsInADelete covers both ways an identity leaves: it
// vanishes from a full snapshot, or a delta carries its tombstone. Either
// way the object is disabled, kept for deleteAfter, then deleted, even
// though the record never comes back to be evaluated.
func TestGracePeriodEndsInADelete(t *testing.T) {
	full := smallConfig + "    deleteAfter: 30d\n"
	delta := strings.Replace(full, "    key: id\n", "    key: id\n    read: delta\n    delta: ${env:DELTA:-none.csv}\n", 1)
	for _, c := range []struct {
		name, cfg string
		env       map[string]string
	}{
		{"absent from a full read", full, map[string]string{"HR": "day2.csv"}},
		{"tombstone in a delta", delta, map[string]string{"DELTA": "tomb.csv"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, map[string]string{"idsync.yaml": c.cfg, "day1.csv": smallDay1,
				"day2.csv": "id,name,dept,level\nE1,Ann,a,1\nE2,Bo,b,2\n",
				"tomb.csv": "id,name,dept,level,_deleted\nE3,,,,true\n", "none.csv": "id,name,dept,level\n"})
			f.apply(nil, ApplyOptions{})
			if _, err := f.planAt(c.env, testNow).Apply(t.Context(), f.plan(c.env), ApplyOptions{}); err != nil {
				t.Fatal(err)
			}
			later := map[string]string{"HR": c.env["HR"], "DELTA": "none.csv"}
			if later["HR"] == "" {
				later["HR"] = "day2.csv"
			}
			if diff := cmp.Diff([]string(nil), f.planOps(later, testNow.Add(29*24*time.Hour))); diff != "" {
				t.Errorf("within the grace period (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{"dir delete E3"}, f.planOps(later, testNow.Add(31*24*time.Hour))); diff != "" {
				t.Errorf("after the grace period (-want +got):\n%s", diff)
			}
		})
	}
}
