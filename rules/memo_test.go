package rules

import (
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/go-cmp/cmp"
)

// TestSharedRulesRunOnceARow compiles the same rules for two targets and
// evaluates them row by row, target after target, as a plan does, over two
// batches whose rows differ: on every row each target must get what CEL
// gives, never a value from another row or batch, and the second target's
// programs must not run again.
func TestSharedRulesRunOnceARow(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	env := newEnv(t)
	texts := []string{"user.given", "lowerAscii(user.given) + user.id", "user.age > 10", "[user.id, user.given]"}
	compile := func(target string) []*Program {
		var exprs []Expr
		for _, text := range texts {
			exprs = append(exprs, Expr{Name: target + ": " + text, Text: text, Kind: ValueRule})
		}
		exprs[2].Kind = BoolRule
		progs, issues := env.Compile(exprs)
		if len(issues) > 0 {
			t.Fatal(issues)
		}
		return progs
	}
	first, second := compile("a"), compile("b")
	alone, _ := env.Compile([]Expr{{Name: "c", Text: "user.id + '!'", Kind: ValueRule}})
	if alone[0].memo != 0 || first[0].memo == 0 || first[0].memo != second[0].memo || first[0].memo == first[1].memo {
		t.Fatalf("memo slots: alone %d, first %d and %d, second %d; want none, then two slots, shared",
			alone[0].memo, first[0].memo, first[1].memo, second[0].memo)
	}
	ev := env.NewEvaluator(time.Unix(0, 0))
	for batch, given := range [][]string{{"José", "Zoë"}, {"Ann", "Bo"}} {
		rec := people(mem, []string{"E1", "E2"}, given, []int64{41, int64(batch)})
		if err := ev.Bind(rec); err != nil {
			t.Fatal(err)
		}
		for row := range 2 {
			for j := range texts {
				viaCEL := *first[j]
				viaCEL.field, viaCEL.fast, viaCEL.memo = -1, nil, 0
				want, err := ev.Eval(&viaCEL, row)
				if err != nil {
					t.Fatal(err)
				}
				for _, p := range []*Program{first[j], second[j]} {
					if got, err := ev.Eval(p, row); err != nil || !cmp.Equal(got, want) {
						t.Errorf("batch %d row %d %s: got %#v, %v; want %#v", batch, row, p.Name, got, err, want)
					}
				}
			}
		}
		// A list is not shared: whoever holds one may change it.
		l1, _ := ev.Eval(first[3], 0)
		l1.([]string)[0] = "changed"
		if l2, _ := ev.Eval(second[3], 0); l2.([]string)[0] == "changed" {
			t.Error("two targets were given the same list")
		}
		// The second target's run of a row costs no allocation: it is
		// handed the value, the same boxed string, the first one made.
		once := testing.AllocsPerRun(20, func() {
			for row := range 2 {
				_, _ = ev.Eval(first[1], row)
			}
		})
		both := testing.AllocsPerRun(20, func() {
			for row := range 2 {
				_, _ = ev.Eval(first[1], row)
				_, _ = ev.Eval(second[1], row)
			}
		})
		if once == 0 || both != once {
			t.Errorf("allocations over two rows: %v for one target, %v for two; want the same, above zero", once, both)
		}
		// The next batch starts on row 0 too: what is remembered of
		// this one must not answer for it.
		for _, p := range first {
			_, _ = ev.Eval(p, 0)
		}
		rec.Release()
	}
}
