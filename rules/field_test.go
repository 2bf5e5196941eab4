package rules

import (
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/go-cmp/cmp"
)

// sameAsCEL fails t unless p yields on every row of the bound batch what
// CEL itself yields for it: p's field copy or Go compilation, if it has
// one, must not change any result.
func sameAsCEL(t *testing.T, ev *Evaluator, p *Program, rows int) {
	t.Helper()
	viaCEL := *p
	viaCEL.field, viaCEL.fast, viaCEL.memo = -1, nil, 0
	for i := range rows {
		got, err := ev.Eval(p, i)
		want, wantErr := ev.Eval(&viaCEL, i)
		if (err != nil) != (wantErr != nil) || !cmp.Equal(got, want) {
			t.Errorf("%s, row %d: got %#v, %v; CEL gives %#v, %v", p.Text, i, got, err, want, wantErr)
		}
	}
}

// TestFieldCopiesYieldWhatCELYields compiles rules that only read a field,
// which skip CEL, and rules that do a little more, which must not, and
// compares every result with CEL's on rows with and without nulls.
func TestFieldCopiesYieldWhatCELYields(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	env := newEnv(t)
	b := array.NewRecordBuilder(mem, testSchema)
	defer b.Release()
	b.Field(0).(*array.StringBuilder).AppendValues([]string{"E1", "E2", ""}, nil)
	b.Field(1).(*array.StringBuilder).AppendValues([]string{"José", "", ""}, []bool{true, false, true})
	b.Field(2).(*array.Int64Builder).AppendValues([]int64{41, 0, -3}, []bool{true, false, true})
	b.Field(3).(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{1, 0, -5}, []bool{true, false, true})
	rec := b.NewRecordBatch()
	defer rec.Release()
	ev := env.NewEvaluator(time.Unix(0, 0))
	if err := ev.Bind(rec); err != nil {
		t.Fatal(err)
	}
	for text, copies := range map[string]bool{
		"user.id": true, "user.given": true, " (user.given) ": true, "user.age": true, "user.hired": true,
		"user.given + ''": false, "user.age + 0": false, "'user.given'": false, "[user.id]": false,
		"user.given != '' ? user.given : 'x'": false,
	} {
		progs, issues := env.Compile([]Expr{{Name: "r", Text: text, Kind: ValueRule}})
		if len(issues) > 0 {
			t.Fatalf("%s: %v", text, issues)
		}
		p := progs[0]
		if got := p.field >= 0; got != copies {
			t.Errorf("%s: field copy = %v, want %v", text, got, copies)
		}
		sameAsCEL(t, ev, p, int(rec.NumRows()))
	}
}
