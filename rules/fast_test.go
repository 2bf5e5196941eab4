package rules

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

var fastSchema = arrow.NewSchema([]arrow.Field{
	{Name: "a", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "b", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "n", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "t", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
}, nil)

// exprGen writes random rules of one type from the subset compileFast
// takes, with now and then something it does not (a float, a function
// outside it), so both paths and their boundary are exercised.
type exprGen struct{ r *rand.Rand }

var fastWords = []string{`""`, `"a"`, `"Zoë"`, `"ÉCOLE"`, `"ß"`, `"Lead"`, `"x y"`, `"A"`}

func (g exprGen) str(depth int) string {
	if depth <= 0 {
		return []string{"user.a", "user.b", fastWords[g.r.IntN(len(fastWords))]}[g.r.IntN(3)]
	}
	d := depth - 1
	switch g.r.IntN(7) {
	case 0:
		return g.str(d) + " + " + g.str(d)
	case 1:
		return "lowerAscii(" + g.str(d) + ")"
	case 2:
		return "upperAscii(" + g.str(d) + ")"
	case 3:
		return "(" + g.boolean(d) + " ? " + g.str(d) + " : " + g.str(d) + ")"
	case 4:
		return "normalizeDiacritics(" + g.str(d) + ")" // outside the subset
	}
	return g.str(0)
}

func (g exprGen) integer(depth int) string {
	if depth <= 0 {
		return []string{"user.n", "3", "-1", "0"}[g.r.IntN(4)]
	}
	d := depth - 1
	switch g.r.IntN(4) {
	case 0:
		return "size(" + g.str(d) + ")"
	case 1:
		return g.str(d) + ".size()"
	case 2:
		return "(" + g.boolean(d) + " ? " + g.integer(d) + " : " + g.integer(d) + ")"
	}
	return g.integer(0)
}

// list writes a list literal of strings, as groups rules are, or now and
// then a list built another way (outside the subset).
func (g exprGen) list(depth int) string {
	if g.r.IntN(6) == 0 {
		return "[" + g.str(depth) + "] + [" + g.str(depth) + "]"
	}
	elems := make([]string, 1+g.r.IntN(3))
	for i := range elems {
		elems[i] = g.str(depth)
	}
	return "[" + strings.Join(elems, ", ") + "]"
}

func (g exprGen) boolean(depth int) string {
	if depth <= 0 {
		return []string{"user.t", "true", "false"}[g.r.IntN(3)]
	}
	d := depth - 1
	cmp := []string{"==", "!=", "<", "<=", ">", ">="}[g.r.IntN(6)]
	switch g.r.IntN(11) {
	case 0:
		return g.str(d) + " " + cmp + " " + g.str(d)
	case 1:
		return g.integer(d) + " " + cmp + " " + g.integer(d)
	case 2:
		return g.boolean(d) + " " + []string{"==", "!="}[g.r.IntN(2)] + " " + g.boolean(d)
	case 3:
		return "(" + g.boolean(d) + " && " + g.boolean(d) + ")"
	case 4:
		return "(" + g.boolean(d) + " || " + g.boolean(d) + ")"
	case 5:
		return "!" + g.boolean(d)
	case 6:
		return g.str(d) + " in [" + strings.Join(fastWords[:1+g.r.IntN(4)], ", ") + "]"
	case 7:
		return "(" + g.boolean(d) + " ? " + g.boolean(d) + " : " + g.boolean(d) + ")"
	case 8:
		return "double(" + g.integer(d) + ") > 1.5" // outside the subset
	}
	return g.boolean(0)
}

// fastBatch has rows of random values from small pools, so comparisons
// are often equal, with a null in about one field in five.
func fastBatch(t *testing.T, r *rand.Rand, rows int) arrow.RecordBatch {
	t.Helper()
	b := array.NewRecordBuilder(memory.NewGoAllocator(), fastSchema)
	defer b.Release()
	pool := []string{"", "a", "A", "Zoë", "ÉCOLE", "ß", "Lead", "x y", "lead"}
	valid := func() bool { return r.IntN(5) > 0 }
	for range rows {
		for col := range 2 {
			b.Field(col).(*array.StringBuilder).AppendValues([]string{pool[r.IntN(len(pool))]}, []bool{valid()})
		}
		b.Field(2).(*array.Int64Builder).AppendValues([]int64{int64(r.IntN(7) - 2)}, []bool{valid()})
		b.Field(3).(*array.BooleanBuilder).AppendValues([]bool{r.IntN(2) == 0}, []bool{valid()})
	}
	return b.NewRecordBatch()
}

// TestRulesCompiledToGoYieldWhatCELYields compares, on random rules and
// random rows with nulls, every result of the Go-compiled path with what
// CEL yields for the same rule, and checks that most rules took that path
// and that it answered most rows itself.
func TestRulesCompiledToGoYieldWhatCELYields(t *testing.T) {
	env, err := NewEnv(fastSchema, Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(7, 8))
	rec := fastBatch(t, r, 64)
	defer rec.Release()
	ev := env.NewEvaluator(time.Unix(0, 0))
	if err := ev.Bind(rec); err != nil {
		t.Fatal(err)
	}
	g := exprGen{r}
	compiled, fast, evals, answered := 0, 0, 0, 0
	for n := range 3000 {
		var text string
		kind := ValueRule
		switch n % 4 {
		case 0:
			text = g.str(1 + r.IntN(4))
		case 1:
			text, kind = g.boolean(1+r.IntN(4)), BoolRule
		case 2:
			text = g.integer(1 + r.IntN(4))
		case 3:
			text, kind = g.list(r.IntN(3)), ListRule
		}
		progs, issues := env.Compile([]Expr{{Name: "r", Text: text, Kind: kind}})
		if len(issues) > 0 {
			continue // a generated rule can be ill-typed (say, "" < 3)
		}
		compiled++
		if p := progs[0]; p.fast != nil {
			fast++
			for i := range int(rec.NumRows()) {
				evals++
				if _, ok := p.fast(ev, i); ok {
					answered++ // rather than left to CEL for a null
				}
			}
		}
		sameAsCEL(t, ev, progs[0], int(rec.NumRows()))
		if t.Failed() {
			t.Fatalf("rule %d: %s", n, text)
		}
	}
	if fast < compiled/2 {
		t.Errorf("only %d of %d rules were compiled to Go: the test barely exercises it", fast, compiled)
	}
	if answered < evals*3/4 { // nulls are one field in five
		t.Errorf("the Go path answered %d of %d evaluations; the rest went to CEL", answered, evals)
	}
	t.Logf("%d rules, %d compiled to Go; it answered %d of their %d evaluations", compiled, fast, answered, evals)
}
