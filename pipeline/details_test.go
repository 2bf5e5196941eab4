package pipeline

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestDetailsReadAheadPlansTheSameOps plans one state and a shuffled
// snapshot two ways: with the stored details read one by one, and read
// ahead for each batch. It does so for a day of every kind of change, and
// for a policy change that updates everyone, and the two plans must be
// the same ops, old values and memberships included.
func TestDetailsReadAheadPlansTheSameOps(t *testing.T) {
	defer func(on bool) { readDetailsAhead = on }(readDetailsAhead)
	c := oracleSeeds[1] // 300 people, every kind of change
	files := c.files()
	// Out of key order, as a source may be: the read-ahead sorts a
	// batch's keys for its walk and must put each back on its row.
	lines := strings.SplitAfter(files["s1.csv"], "\n")
	body := lines[1 : len(lines)-1] // the header stays first; the last is empty
	rand.New(rand.NewPCG(5, 5)).Shuffle(len(body), func(i, j int) { body[i], body[j] = body[j], body[i] })
	files["s1.csv"] = strings.Join(lines, "")
	policy := strings.Replace(oracleConfig, "title: user.title", "title: upperAscii(user.title)", 1)
	for name, cfg := range map[string]string{"day of changes": oracleConfig, "policy change": policy} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, files)
			f.apply(map[string]string{"HR": "s0.csv"}, ApplyOptions{AllowDeletes: true})
			f.write(map[string]string{"idsync.yaml": cfg})
			var plans [][]string
			for _, ahead := range []bool{false, true} {
				readDetailsAhead = ahead
				p, err := f.engine(map[string]string{"HR": "s1.csv"}).Plan(t.Context(), PlanOptions{Full: true})
				if err != nil {
					t.Fatal(err)
				}
				plans = append(plans, comparable(p))
			}
			want := 1
			if cfg == policy {
				want = c.n / 2 // every active user's title changes
			}
			if len(plans[0]) < want {
				t.Fatalf("%d ops, want at least %d: the case tests nothing", len(plans[0]), want)
			}
			if diff := cmp.Diff(plans[0], plans[1]); diff != "" {
				t.Errorf("details read one by one (-) and ahead (+) plan differently:\n%s", diff)
			}
		})
	}
}
