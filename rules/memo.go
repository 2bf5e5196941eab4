package rules

import "strings"

// share gives p a memo slot when an earlier program has the same text. A
// rule's text alone decides its value: every program of an Env reads the
// same record and the same clock.
func (e *Env) share(p *Program) {
	if p == nil {
		return
	}
	text := strings.TrimSpace(p.Text)
	first, seen := e.byText[text]
	if !seen {
		if e.byText == nil {
			e.byText = map[string]*Program{}
		}
		e.byText[text] = p
		return
	}
	if first.memo == 0 {
		e.slots++
		first.memo = e.slots
	}
	p.memo = first.memo
}

// memoized is a shared rule's result on one row of one batch.
type memoized struct {
	batch uint64
	row   int
	v     any
}

// evalShared runs a rule that shares its text with another program, once a
// row: the program that runs second on the row gets the first one's value.
func (ev *Evaluator) evalShared(p *Program, i int) (any, error) {
	if p.memo > len(ev.memo) {
		ev.memo = append(ev.memo, make([]memoized, p.memo-len(ev.memo))...)
	}
	m := &ev.memo[p.memo-1]
	if m.batch == ev.batch && m.row == i {
		return m.v, nil
	}
	v, err := ev.eval(p, i)
	switch v.(type) {
	case nil, string, bool, int64, float64: // not a list: its holder may change it
		if err == nil {
			*m = memoized{batch: ev.batch, row: i, v: v}
		}
	}
	return v, err
}
