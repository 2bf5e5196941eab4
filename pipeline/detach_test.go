package pipeline

import (
	"fmt"
	"testing"
	"unsafe"

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
			detachSparse(results)
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
