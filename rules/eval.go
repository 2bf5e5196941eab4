package rules

import (
	"errors"
	"fmt"
	"hash/maphash"
	"reflect"
	"strings"
	"time"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// Evaluator runs programs over the rows of one batch at a time. It reads
// values straight from Arrow columns; no map is built per row. An Evaluator
// is not safe for concurrent use: give each goroutine its own.
type Evaluator struct {
	env  *Env
	now  ref.Val
	cols []column
	// The columns by type, for field copies and rules compiled to Go; nil
	// where a column has another type.
	strs  []*array.String
	ints  []*array.Int64
	bools []*array.Boolean
	row   int
	// batch counts Binds; memo[slot] holds a shared rule's last result
	// (see evalShared).
	batch uint64
	memo  []memoized
	// text is the buffer string rules build their values in (see build),
	// and arena where they are kept when the caller asks (UseTextArena).
	text  []byte
	arena textArena
	// boxes shares repeated strings of each string column (see boxes).
	boxes []boxes
	seed  maphash.Seed
}

var _ interpreter.Activation = (*Evaluator)(nil)

// NewEvaluator returns an evaluator whose rules see now as the clock.
func (e *Env) NewEvaluator(now time.Time) *Evaluator {
	return &Evaluator{env: e, now: types.Timestamp{Time: now.UTC()}, seed: maphash.MakeSeed()}
}

// Bind points the evaluator at a batch. The batch must have the env's
// schema and outlive its use here.
func (ev *Evaluator) Bind(b arrow.RecordBatch) error {
	if !b.Schema().Equal(ev.env.schema) {
		return errors.New("rules: batch schema differs from the rules' schema")
	}
	ev.cols, ev.strs, ev.ints, ev.bools = ev.cols[:0], ev.strs[:0], ev.ints[:0], ev.bools[:0]
	for _, c := range b.Columns() {
		ev.cols = append(ev.cols, newColumn(c))
		s, _ := c.(*array.String)
		n, _ := c.(*array.Int64)
		t, _ := c.(*array.Boolean)
		ev.strs, ev.ints, ev.bools = append(ev.strs, s), append(ev.ints, n), append(ev.bools, t)
	}
	if len(ev.boxes) != len(ev.cols) {
		ev.boxes = make([]boxes, len(ev.cols))
	}
	ev.batch++
	return nil
}

// Eval runs p on row i of the bound batch and returns a plain Go value:
// nil, string, bool, int64, float64, []string, or a timestamp as an RFC 3339
// string in UTC.
func (ev *Evaluator) Eval(p *Program, i int) (any, error) {
	if p.memo != 0 {
		return ev.evalShared(p, i)
	}
	return ev.eval(p, i)
}

func (ev *Evaluator) eval(p *Program, i int) (any, error) {
	if p.field >= 0 {
		return ev.read(p.field, i)
	}
	if p.fast != nil {
		if v, ok := p.fast(ev, i); ok {
			return v, nil
		}
	}
	ev.row = i
	out, _, err := p.prg.Eval(ev)
	if err != nil {
		return nil, err
	}
	return native(out)
}

// read is what a rule that is only field idx yields on row i: the same
// value CEL would, without an interpreter, and for a string without
// boxing it in a CEL value.
func (ev *Evaluator) read(idx, i int) (any, error) {
	if ev.strs[idx] != nil {
		if s, ok := readStr(ev, idx, i); ok {
			if ev.boxes[idx].off {
				return ev.arena.box(s), nil // a column of mostly distinct values
			}
			return ev.boxes[idx].box(ev.seed, s), nil
		}
		return nil, nil // a null
	}
	return native(ev.cols[idx](i))
}

// EvalBool runs a BoolRule.
func (ev *Evaluator) EvalBool(p *Program, i int) (bool, error) {
	v, err := ev.Eval(p, i)
	if err != nil {
		return false, err
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("yielded %T, want bool", v)
	}
	return b, nil
}

// Field returns a record field's value (user.status) on row i as a plain
// Go value, for explanations.
func (ev *Evaluator) Field(name string, i int) any {
	idx, ok := ev.env.cols[name]
	if !ok || idx >= len(ev.cols) {
		return nil
	}
	v, err := native(ev.cols[idx](i))
	if err != nil {
		return nil
	}
	return v
}

// Fields lists the record's field names in schema order.
func (e *Env) Fields() []string {
	out := make([]string, 0, len(e.cols))
	for _, f := range e.schema.Fields() {
		if !strings.HasPrefix(f.Name, "_") {
			out = append(out, e.opts.Prefix+"."+f.Name)
		}
	}
	return out
}

// ResolveName implements interpreter.Activation over the bound row.
func (ev *Evaluator) ResolveName(name string) (any, bool) {
	if name == NowVar {
		return ev.now, true
	}
	idx, ok := ev.env.cols[name]
	if !ok || idx >= len(ev.cols) {
		return nil, false
	}
	return ev.cols[idx](ev.row), true
}

// Parent implements interpreter.Activation.
func (ev *Evaluator) Parent() interpreter.Activation { return nil }

// column reads one row of an Arrow column as a CEL value.
type column func(i int) ref.Val

func newColumn(a arrow.Array) column {
	nullable := func(get column) column {
		return func(i int) ref.Val {
			if a.IsNull(i) {
				return types.NullValue
			}
			return get(i)
		}
	}
	switch c := a.(type) {
	case *array.String:
		return nullable(func(i int) ref.Val { return types.String(c.Value(i)) })
	case *array.Int64:
		return nullable(func(i int) ref.Val { return types.Int(c.Value(i)) })
	case *array.Float64:
		return nullable(func(i int) ref.Val { return types.Double(c.Value(i)) })
	case *array.Boolean:
		return nullable(func(i int) ref.Val { return types.Bool(c.Value(i)) })
	case *array.Timestamp:
		unit := c.DataType().(*arrow.TimestampType).Unit
		return nullable(func(i int) ref.Val { return types.Timestamp{Time: c.Value(i).ToTime(unit)} })
	}
	return func(int) ref.Val { return types.NullValue }
}

// native converts a result to the plain Go values attributes travel as.
func native(v ref.Val) (any, error) {
	switch x := v.(type) {
	case types.Null:
		return nil, nil
	case types.String:
		return string(x), nil
	case types.Bool:
		return bool(x), nil
	case types.Int:
		return int64(x), nil
	case types.Uint:
		return int64(x), nil
	case types.Double:
		return float64(x), nil
	case types.Timestamp:
		return x.Time.UTC().Format(time.RFC3339), nil
	}
	if v.Type() == types.ListType {
		items, err := v.ConvertToNative(reflectStrings)
		if err != nil {
			return nil, fmt.Errorf("list must hold strings: %w", err)
		}
		return items, nil
	}
	return nil, fmt.Errorf("unsupported result type %s", v.Type().TypeName())
}

var reflectStrings = reflect.TypeFor[[]string]()
