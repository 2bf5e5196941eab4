package rules

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// TestBoxedValuesKeepUntilReused keeps the values (as `any`) that a built
// string, a copied column of distinct strings and a list yield. Each is right when
// made; once the arena is reset for reuse, those boxed in its slabs read
// the marker tests fill reused slots with; reset without reuse, all keep
// their values.
func TestBoxedValuesKeepUntilReused(t *testing.T) {
	env := newEnv(t)
	progs, issues := env.Compile([]Expr{
		{Name: "mail", Text: "user.given + '.' + user.id + '@example.com'", Kind: ValueRule},
		{Name: "id", Text: "user.id", Kind: ValueRule},
		{Name: "groups", Text: "[user.id, user.given + '!']", Kind: ListRule},
	})
	if len(issues) > 0 {
		t.Fatal(issues)
	}
	ev := env.NewEvaluator(time.Now())
	ev.UseTextArena()
	for batch, reuse := range []bool{true, false, true} {
		ids := make([]string, 3*slabBytes/16) // past one slab of string headers
		for i := range ids {
			ids[i] = fmt.Sprint("E", batch, "-", i)
		}
		rec := people(memory.DefaultAllocator, ids, ids, make([]int64, len(ids)))
		if err := ev.Bind(rec); err != nil {
			t.Fatal(err)
		}
		want := func(p, i int) any {
			switch p {
			case 0:
				return ids[i] + "." + ids[i] + "@example.com"
			case 1:
				return ids[i]
			}
			return []string{ids[i], ids[i] + "!"}
		}
		kept := make([][]any, len(progs))
		for p, prog := range progs {
			kept[p] = make([]any, len(ids))
			for i := range ids {
				v, err := ev.Eval(prog, i)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(v, want(p, i)) {
					t.Fatalf("batch %d %s row %d: %v, want %q", batch, prog.Name, i, v, want(p, i))
				}
				kept[p][i] = v
			}
		}
		ev.ResetText(reuse)
		for p, prog := range progs {
			marked := 0
			for i, v := range kept[p] {
				switch {
				case reflect.DeepEqual(v, reusedBox) || reflect.DeepEqual(v, []string{reusedBox}):
					marked++
				case reflect.DeepEqual(v, want(p, i)):
				default:
					t.Fatalf("batch %d %s row %d: %v after the reset", batch, prog.Name, i, v)
				}
			}
			// The column's first strings go through its table of shared
			// boxes (boxes.go) until it gives up on them.
			least := len(ids)
			if p == 1 {
				least -= boxTries
			}
			if reuse && marked < least || !reuse && marked > 0 {
				t.Errorf("batch %d %s: %d of %d values read the reused marker (reuse %v)", batch, prog.Name, marked, len(ids), reuse)
			}
		}
		rec.Release()
	}
}

// TestBoxingReusesSlabs: with the arena reused batch after batch, a built
// string costs no allocation of its own.
func TestBoxingReusesSlabs(t *testing.T) {
	env := newEnv(t)
	progs, issues := env.Compile([]Expr{{Name: "mail", Text: "user.given + '.' + user.id", Kind: ValueRule}})
	if len(issues) > 0 {
		t.Fatal(issues)
	}
	ids := make([]string, 1000)
	for i := range ids {
		ids[i] = fmt.Sprint("E", i)
	}
	rec := people(memory.DefaultAllocator, ids, ids, make([]int64, len(ids)))
	defer rec.Release()
	ev := env.NewEvaluator(time.Now())
	ev.UseTextArena()
	if err := ev.Bind(rec); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(20, func() {
		for i := range ids {
			if _, err := ev.Eval(progs[0], i); err != nil {
				t.Fatal(err)
			}
		}
		ev.ResetText(true)
	})
	if perRow := allocs / float64(len(ids)); perRow > 0.01 {
		t.Errorf("%.3f allocations a row, want none", perRow)
	}
}
