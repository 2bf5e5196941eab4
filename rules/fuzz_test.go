package rules

import (
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// FuzzCompileEval: any expression compiles or is reported with a position;
// a compiled one evaluates to a value or an error, never a panic, within
// the cost budget, and to what CEL yields when Eval skips CEL for a field
// copy.
func FuzzCompileEval(f *testing.F) {
	for _, s := range []string{
		`user.given + "." + user.id`, `lowerAscii(normalizeDiacritics(user.given))`,
		`user.age > 3 ? "a" : "b"`, `coalesce(user.age, 1)`, `regexReplace(user.given, "[a-z]+", "$0$0")`,
		`[1, 2].map(x, x * 2)`, `user.given.split("").join("-")`, `selectUnique([user.id, user.id + "2"])`,
		`randomString(user.id, 300)`, `formatDate(user.hired, "yyyy")`, `{"a": 1}`, `1/0`,
	} {
		f.Add(s)
	}
	env, err := NewEnv(testSchema, Options{})
	if err != nil {
		f.Fatal(err)
	}
	rec := testBatch(f, memory.NewGoAllocator())
	f.Fuzz(func(t *testing.T, text string) {
		progs, issues := env.Compile([]Expr{{Name: "r", Text: text, Kind: ValueRule}})
		for _, is := range issues {
			if is.Line < 1 || is.Column < 1 || is.Message == "" {
				t.Errorf("issue without a position: %+v", is)
			}
		}
		if progs[0] == nil {
			return
		}
		ev := env.NewEvaluator(time.Unix(0, 0))
		if err := ev.Bind(rec); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		for i := range 2 {
			_, _ = ev.Eval(progs[0], i)
		}
		sameAsCEL(t, ev, progs[0], 2)
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%q took %v: the cost bound did not hold", text, d)
		}
	})
}
