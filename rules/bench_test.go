package rules

import (
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// BenchmarkEval measures one typical mapping rule on one row, read from
// Arrow columns through the evaluator's activation.
func BenchmarkEval(b *testing.B) {
	env, err := NewEnv(testSchema, Options{})
	if err != nil {
		b.Fatal(err)
	}
	progs, issues := env.Compile([]Expr{{Name: "mail", Text: "lowerAscii(user.given + '.' + user.id) + '@example.com'", Kind: ValueRule}})
	if len(issues) > 0 {
		b.Fatal(issues)
	}
	rec := testBatch(b, memory.NewGoAllocator())
	defer rec.Release()
	ev := env.NewEvaluator(time.Now())
	if err := ev.Bind(rec); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ev.Eval(progs[0], 0); err != nil {
			b.Fatal(err)
		}
	}
}
