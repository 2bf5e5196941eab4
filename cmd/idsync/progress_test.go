package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestBarProgressDraws: the bar names the stage, the total and the rate
// (redraws are throttled, so which count shows depends on timing).
func TestBarProgressDraws(t *testing.T) {
	var buf bytes.Buffer
	p := &barProgress{w: &buf}
	p.Begin("apply crm", 10)
	for range 10 {
		p.Add(1)
	}
	p.End()
	out := buf.String()
	for _, want := range []string{"apply crm", "/10,", "ops/s"} {
		if !strings.Contains(out, want) {
			t.Errorf("bar output lacks %q: %q", want, out)
		}
	}
}

// TestBarProgressStretches: a read that outgrows its estimate never shows
// more than 100%.
func TestBarProgressStretches(t *testing.T) {
	var buf bytes.Buffer
	p := &barProgress{w: &buf}
	p.Begin("read hr", 10)
	p.Add(25)
	if got := p.bar.GetMax(); got < 25 {
		t.Errorf("max = %d after 25 of an expected 10 rows", got)
	}
	p.End()
}
