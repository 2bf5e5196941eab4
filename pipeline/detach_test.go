package pipeline

import (
	"fmt"
	"strings"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/idsync/idsync/connectors"
)

// TestDetachSparseCopiesOnlyWhereMostRowsAreDropped makes results whose
// strings alias one buffer, as values read from an Arrow column do, then
// overwrites the buffer. In a batch where one row in four produced work
// the kept strings must survive (they were copied); in one where three
// in four did, they must change with it (nothing was copied, since the
// ops keep most of the buffer anyway).
func TestDetachSparseCopiesOnlyWhereMostRowsAreDropped(t *testing.T) {
	for _, working := range []int{1, 3} {
		t.Run(fmt.Sprint(working, " of 4 rows working"), func(t *testing.T) {
			buf := []byte("Ada Lovelace Sales")
			alias := func(from, to int) string { return unsafe.String(&buf[from], to-from) }
			name, group, team := alias(0, 3), alias(13, 18), alias(4, 12)
			results := make([][]*rowResult, 4)
			for i := range results {
				results[i] = []*rowResult{nil}
				if i < working {
					results[i][0] = &rowResult{
						ops: []connectors.Op{
							{Action: connectors.Update, Key: "E1", Changes: []connectors.Change{{Attr: "name", New: name}, {Attr: "teams", New: []string{team}}}},
							{Action: connectors.AddMember, Key: "E1", Group: group},
						},
						desired: connectors.Attrs{"name": name},
						pick:    uniquePick{attrs: []uniqueAttr{{name: "login", candidates: []string{name}}}},
					}
				}
			}
			var groups groupNames
			if detached := detachSparse(results, &groups); detached != (working*2 < len(results)) {
				t.Errorf("detachSparse = %v", detached)
			}
			copy(buf, "XXXXXXXXXXXXXXXXXX")
			r := results[0][0]
			got := []string{r.ops[0].Changes[0].New.(string), r.ops[0].Changes[1].New.([]string)[0], r.ops[1].Group,
				r.desired["name"].(string), r.pick.attrs[0].candidates[0]}
			want := []string{"Ada", "Lovelace", "Sales", "Ada", "Ada"}
			if working*2 >= len(results) {
				want = []string{"XXX", "XXXXXXXX", "XXXXX", "XXX", "XXX"}
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("after the buffer changed: got %q, want %q", got, want)
			}
		})
	}
}

// TestDetachDenseCopiesOnlyGroupNames makes a batch's worth of results
// where every row produced work, as in a first sync: compact creates (no
// changes) and memberships whose group names alias one buffer. They are
// detached, each name copied once, and survive the buffer's change. One
// op with changes anywhere leaves the batch as it is.
func TestDetachDenseCopiesOnlyGroupNames(t *testing.T) {
	buf := []byte("Sales Legal")
	sales, legal := unsafe.String(&buf[0], 5), unsafe.String(&buf[6], 5)
	batch := func(changes bool) [][]*rowResult {
		results := make([][]*rowResult, 4)
		for i := range results {
			group := []string{sales, legal}[i%2]
			r := &rowResult{ops: []connectors.Op{
				{Action: connectors.Create, Key: fmt.Sprint("E", i)},
				{Action: connectors.AddMember, Key: fmt.Sprint("E", i), Group: group},
			}}
			if changes && i == 3 {
				r.ops[0].Changes = []connectors.Change{{Attr: "dept", New: group}}
			}
			results[i] = []*rowResult{r}
		}
		return results
	}
	var groups groupNames
	if batch(true)[3][0].ops[0].Changes == nil || detachSparse(batch(true), &groups) {
		t.Fatal("a batch with changes to keep was detached")
	}
	results := batch(false)
	if !detachSparse(results, &groups) {
		t.Fatal("a batch of compact creates and memberships was not detached")
	}
	copy(buf, "XXXXXXXXXXX")
	var got []string
	for _, row := range results {
		got = append(got, row[0].ops[1].Group)
	}
	if want := []string{"Sales", "Legal", "Sales", "Legal"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("group names after the buffer changed: %q, want %q", got, want)
	}
	if unsafe.StringData(got[0]) != unsafe.StringData(got[2]) || len(groups) != 2 {
		t.Errorf("each name was not copied once: %d names held", len(groups))
	}
}

// TestDetachKeysCopiesEachKey reads the keys of a slice of an Arrow column
// (its first value not at the buffer's start, an empty key among them),
// then overwrites the column's bytes: every key read must keep its value.
func TestDetachKeysCopiesEachKey(t *testing.T) {
	b := array.NewStringBuilder(memory.DefaultAllocator)
	defer b.Release()
	want := []string{"E1", "E22", "", "Zoë", "E333"}
	b.AppendValues(append([]string{"skipped", "also"}, want...), nil)
	whole := b.NewStringArray()
	defer whole.Release()
	col := array.NewSlice(whole, 2, int64(2+len(want))).(*array.String)
	defer col.Release()
	got := make([]string, len(want))
	detachKeys(col, got)
	clear(whole.ValueBytes()) // as a batch's buffer reused would be
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("key %d: %q, want %q", i, got[i], want[i])
		}
	}
}

// TestRecycledBatchesLeaveNoValueBehind plans a first sync, then renames
// among unchanged records, in batches of 8, which are detached and
// recycled (densely, then sparsely), and compares each plan with one made
// without recycling. Tests overwrite a recycled batch's bytes
// (batch.Recycler), so a value an op still reads from its batch shows up
// as a different plan. The rules' strings are built in the evaluators'
// arenas, which are reused (and overwritten in tests) with the batches.
func TestRecycledBatchesLeaveNoValueBehind(t *testing.T) {
	t.Cleanup(func() { batchRows, recycleBatches = 0, true })
	cfg := strings.Replace(smallConfig, "name: user.name", `name: 'user.level > 0 ? user.name + "!" : "nobody"'`, 1)
	cfg = strings.Replace(cfg, "match: login", `groups: '["g-" + user.dept]'`, 1) // compact creates, and memberships
	if !strings.Contains(cfg, "nobody") || !strings.Contains(cfg, "groups:") {
		t.Fatal("smallConfig has no name or match rule to replace")
	}
	var day1, day2 strings.Builder
	for _, b := range []*strings.Builder{&day1, &day2} {
		b.WriteString("id,name,dept,level\n")
	}
	for i := range 64 {
		fmt.Fprintf(&day1, "E%d,Person %d,d%d,1\n", i, i, i%3)
		if i%16 == 5 {
			fmt.Fprintf(&day2, "E%d,Renamed %d,d%d,1\n", i, i, i%3)
		} else {
			fmt.Fprintf(&day2, "E%d,Person %d,d%d,1\n", i, i, i%3)
		}
	}
	f := newFixture(t, map[string]string{"idsync.yaml": cfg, "day1.csv": day1.String(), "day2.csv": day2.String()})
	plans := func(file string) (plans [2][]string) {
		for i, recycle := range []bool{false, true} {
			batchRows, recycleBatches = 8, recycle
			p, err := f.engine(map[string]string{"HR": file}).Plan(t.Context(), PlanOptions{Full: true})
			if err != nil {
				t.Fatal(err)
			}
			plans[i] = everything(p)
		}
		return plans
	}
	for _, day := range []struct {
		file, want string
		n, count   int
	}{{"day1.csv", "Group:g-d2", 64*2 + 3, 22}, {"day2.csv", "New:Renamed", 4, 4}} {
		got := plans(day.file)
		if all := strings.Join(got[0], "\n"); len(got[0]) != day.n || strings.Count(all, day.want) != day.count {
			t.Fatalf("%s: plan without recycling has %d ops, %d with %s; want %d and %d", day.file, len(got[0]), strings.Count(all, day.want), day.want, day.n, day.count)
		}
		if diff := cmp.Diff(got[0], got[1]); diff != "" {
			t.Errorf("%s: plan without recycling (-) and with (+):\n%s", day.file, diff)
		}
		f.apply(map[string]string{"HR": day.file}, ApplyOptions{})
	}
}
