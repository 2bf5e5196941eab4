package pipeline

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// countingProgress records, per stage, the announced total and the sum of
// Adds, and whether every Begin was matched by an End.
type countingProgress struct {
	mu     sync.Mutex
	stages []string
	total  map[string]int
	done   map[string]int
	cur    string
	open   bool
}

func (p *countingProgress) Begin(stage string, total int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.open {
		panic("Begin inside " + p.cur)
	}
	p.stages, p.cur, p.open = append(p.stages, stage), stage, true
	p.total[stage] = total
}

func (p *countingProgress) Add(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done[p.cur] += n
}

func (p *countingProgress) End() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.open = false
}

// TestProgressCountsRowsAndOps: reading reports every row, expecting as
// many as the last full read held (3 on day 1); applying reports each op
// against the plan's count.
func TestProgressCountsRowsAndOps(t *testing.T) {
	var day2 strings.Builder
	day2.WriteString("id,name,dept,level\n")
	for i := range 12 {
		fmt.Fprintf(&day2, "N%02d,New %d,d,1\n", i, i)
	}
	f := newFixture(t, map[string]string{"idsync.yaml": smallConfig, "day1.csv": smallDay1, "day2.csv": day2.String()})
	f.apply(nil, ApplyOptions{})

	pr := &countingProgress{total: map[string]int{}, done: map[string]int{}}
	e := f.engine(map[string]string{"HR": "day2.csv"})
	e.opts.Progress = pr
	p, err := e.Plan(t.Context(), PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Apply(t.Context(), p, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(pr.stages, ","), "read hr,apply dir"; got != want {
		t.Fatalf("stages = %s, want %s", got, want)
	}
	if pr.open {
		t.Error("last stage never ended")
	}
	if pr.total["read hr"] != 3 || pr.done["read hr"] != 12 {
		t.Errorf("read: expected %d done %d, want 3 and 12", pr.total["read hr"], pr.done["read hr"])
	}
	if p.Sources[0].Records != 12 {
		t.Errorf("plan says the read held %d records, want 12", p.Sources[0].Records)
	}
	ops := len(p.Targets[0].Ops)
	if ops != 15 || pr.total["apply dir"] != ops || pr.done["apply dir"] != ops {
		t.Errorf("apply: plan has %d ops, total %d, done %d; want 15 each", ops, pr.total["apply dir"], pr.done["apply dir"])
	}
}
