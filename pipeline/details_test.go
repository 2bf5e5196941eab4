package pipeline

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/idsync/idsync/snapshots"
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

// TestDetailsKeptBesideTheRead: a full plan over a state whose details
// files exist brings them up to date while its read starts, and plans
// what a plan reading every detail from Badger plans. The apply between
// the plans leaves keys for that refresh to read back.
func TestDetailsKeptBesideTheRead(t *testing.T) {
	f := newFixture(t, oracleSeeds[1].files())
	f.reopen(snapshots.Options{NoCompactions: true}) // a plan's store makes the files
	f.apply(map[string]string{"HR": "s0.csv"}, ApplyOptions{AllowDeletes: true})
	if _, err := f.engine(map[string]string{"HR": "s0.csv"}).Plan(t.Context(), PlanOptions{Full: true}); err != nil {
		t.Fatal(err)
	}
	if !f.store.HasDetails() {
		t.Fatal("a full plan after the first sync made no details files")
	}
	f.apply(map[string]string{"HR": "s1.csv", "DELTA": "delta.csv"}, ApplyOptions{AllowDeletes: true})
	before := detailsBeside.Load()
	p, err := f.engine(map[string]string{"HR": "s0.csv"}).Plan(t.Context(), PlanOptions{Full: true})
	if err != nil {
		t.Fatal(err)
	}
	if detailsBeside.Load() != before+1 {
		t.Fatal("the details files were not brought up to date beside the read")
	}
	got := comparable(p)
	if len(got) == 0 {
		t.Fatal("no ops: the case tests nothing")
	}
	// Without the files, every detail comes from Badger.
	if err := os.RemoveAll(filepath.Join(f.dir, "state", "index-cache")); err != nil {
		t.Fatal(err)
	}
	f.reopen(snapshots.Options{}) // a store that compacts makes no files
	p, err = f.engine(map[string]string{"HR": "s0.csv"}).Plan(t.Context(), PlanOptions{Full: true})
	if err != nil {
		t.Fatal(err)
	}
	if f.store.HasDetails() {
		t.Fatal("the files came back: the plan below read them")
	}
	if diff := cmp.Diff(comparable(p), got); diff != "" {
		t.Errorf("read from Badger (-) and from the files kept beside the read (+):\n%s", diff)
	}
}
