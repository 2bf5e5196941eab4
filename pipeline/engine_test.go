package pipeline

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/idsync/idsync/pipeline/config"
	"github.com/idsync/idsync/pipeline/plan"
	"github.com/idsync/idsync/snapshots"
)

// testNow fixes the clock for every engine test.
var testNow = time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC)

// fixture is a config directory with its state, rewritten per test.
type fixture struct {
	t     testing.TB
	dir   string
	store *snapshots.Store
}

func newFixture(t testing.TB, files map[string]string) *fixture {
	t.Helper()
	f := &fixture{t: t, dir: t.TempDir()}
	f.write(files)
	store, err := snapshots.Open(filepath.Join(f.dir, "state"), snapshots.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f.store = store
	t.Cleanup(func() { f.store.Close() })
	return f
}

// reopen closes the fixture's state store and opens it again with opts.
func (f *fixture) reopen(opts snapshots.Options) {
	f.t.Helper()
	if err := f.store.Close(); err != nil {
		f.t.Fatal(err)
	}
	store, err := snapshots.Open(filepath.Join(f.dir, "state"), opts)
	if err != nil {
		f.t.Fatal(err)
	}
	f.store = store
}

func (f *fixture) write(files map[string]string) {
	f.t.Helper()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(f.dir, name), []byte(content), 0o644); err != nil {
			f.t.Fatal(err)
		}
	}
}

// engine loads idsync.yaml with env and returns a fresh engine.
func (f *fixture) engine(env map[string]string) *Engine {
	f.t.Helper()
	return newEngine(f.t, f.dir, f.store, env)
}

// memoryStore is an empty state store in memory, closed when the test ends.
func memoryStore(t testing.TB) *snapshots.Store {
	t.Helper()
	st, err := snapshots.Open("", snapshots.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Error(err)
		}
	})
	return st
}

func newEngine(t testing.TB, dir string, store *snapshots.Store, env map[string]string) *Engine {
	t.Helper()
	cfg, err := config.Load(filepath.Join(dir, "idsync.yaml"), config.Options{Env: func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}})
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(cfg, store, Options{Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func (f *fixture) plan(env map[string]string) *plan.Plan {
	f.t.Helper()
	p, err := f.engine(env).Plan(f.t.Context(), PlanOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	return p
}

// apply plans and applies, failing the test on any op failure.
func (f *fixture) apply(env map[string]string, opts ApplyOptions) (*plan.Plan, *Report) {
	f.t.Helper()
	e := f.engine(env)
	p, err := e.Plan(f.t.Context(), PlanOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	rep, err := e.Apply(f.t.Context(), p, opts)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, tr := range rep.Targets {
		for _, fl := range tr.Failed {
			f.t.Errorf("op %s %s failed: %v", fl.Op.Action, fl.Op.Key, fl.Err)
		}
	}
	return p, rep
}

// opList renders a plan's ops as "target action key attr,attr" lines.
func opList(p *plan.Plan) []string {
	var out []string
	var buf plan.PlainBuf
	for _, t := range p.Targets {
		for _, op := range t.Ops {
			op = t.Plain(op, &buf) // a create may be compact, applied or not
			s := t.Name + " " + op.Action.String() + " " + op.Key
			for i, c := range op.Changes() {
				if i == 0 {
					s += " "
				} else {
					s += ","
				}
				s += c.Attr
			}
			out = append(out, s)
		}
	}
	return out
}
