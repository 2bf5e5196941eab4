package rules

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// TestTextArenaKeepsUntilReused builds strings in an evaluator's arena
// over several batches. Each is right when built. Once the arena is reset
// for reuse, the strings of the batch before read garbage (tests overwrite
// its blocks); reset without reuse, they keep their values.
func TestTextArenaKeepsUntilReused(t *testing.T) {
	env := newEnv(t)
	progs, issues := env.Compile([]Expr{{Name: "mail", Text: "user.given + '.' + user.id + '@example.com'", Kind: ValueRule}})
	if len(issues) > 0 {
		t.Fatal(issues)
	}
	ev := env.NewEvaluator(time.Now())
	ev.UseTextArena()
	for batch, reuse := range []bool{true, false, true} {
		ids := make([]string, 3000) // past one block of the arena
		given := make([]string, len(ids))
		for i := range ids {
			ids[i], given[i] = fmt.Sprint("E", batch, "-", i), strings.Repeat("x", i%40)
		}
		rec := people(memory.DefaultAllocator, ids, given, make([]int64, len(ids)))
		if err := ev.Bind(rec); err != nil {
			t.Fatal(err)
		}
		got := make([]string, len(ids))
		for i := range ids {
			v, err := ev.Eval(progs[0], i)
			if err != nil {
				t.Fatal(err)
			}
			got[i] = v.(string)
			if want := given[i] + "." + ids[i] + "@example.com"; got[i] != want {
				t.Fatalf("batch %d row %d: %q, want %q", batch, i, got[i], want)
			}
		}
		rec.Release()
		ev.ResetText(reuse)
		kept := 0
		for i := range ids {
			if got[i] == given[i]+"."+ids[i]+"@example.com" {
				kept++
			}
		}
		if reuse && kept > 0 || !reuse && kept != len(ids) {
			t.Errorf("batch %d: %d of %d strings kept their values after a reset (reuse %v)", batch, kept, len(ids), reuse)
		}
	}
}
