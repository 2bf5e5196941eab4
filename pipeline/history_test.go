package pipeline

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/idsync/idsync/connectors"
	"github.com/idsync/idsync/pipeline/config"
	"github.com/idsync/idsync/pipeline/plan"
)

// randomJSON makes the strings and values the hand-written encoders are
// held to encoding/json with: escapes, invalid UTF-8, every value type.
type randomJSON struct{ r *rand.Rand }

var jsonStrings = []string{"", "plain", "Ólafur", "a<b>&c", "quote\" back\\slash", "tab\tnl\n", "\x00\x1f", "bad\xffutf8", "\u2028"}

func (g randomJSON) str() string { return jsonStrings[g.r.IntN(len(jsonStrings))] }

func (g randomJSON) value() connectors.Value {
	switch g.r.IntN(8) {
	case 0:
		return nil
	case 1:
		return g.r.IntN(2) == 0
	case 2:
		return int64(g.r.IntN(2000) - 1000)
	case 3:
		return g.r.Float64() * 1e6
	case 4:
		return []string{g.str(), g.str()}
	case 5:
		return []string{}
	case 6:
		return time.Date(2020+g.r.IntN(10), time.March, 1, 2, 3, 4, g.r.IntN(1e9), time.UTC)
	}
	return g.str()
}

func (g randomJSON) changes() []connectors.Change {
	var out []connectors.Change
	for range g.r.IntN(4) {
		out = append(out, connectors.Change{Attr: g.str(), Old: g.value(), New: g.value()})
	}
	return out
}

// sameAsEncodingJSON fails the test unless got is encoding/json's v.
func sameAsEncodingJSON(t *testing.T, i int, v any, got []byte) {
	t.Helper()
	want, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Fatalf("case %d (-encoding/json +by hand):\n%s", i, diff)
	}
}

// TestHistoryJSON holds appendHistory to encoding/json's bytes for random
// records, with empty and missing fields and times in and out of UTC.
func TestHistoryJSON(t *testing.T) {
	g := randomJSON{rand.New(rand.NewPCG(3, 4))}
	zones := []*time.Location{time.UTC, time.FixedZone("x", 5*3600+1800)}
	for i := range 3000 {
		rec := HistoryRecord{Run: g.str(), Time: time.Unix(int64(g.r.IntN(2e9)), int64(g.r.IntN(1e9))).In(zones[g.r.IntN(2)]),
			Target: g.str(), Key: g.str(), Action: g.str(), Group: g.str(), Reason: g.str(), Result: g.str(), Error: g.str(),
			Changes: g.changes()}
		sameAsEncodingJSON(t, i, rec, appendHistory(nil, &rec))
	}
}

// TestJournalJSON holds appendJournalOp to encoding/json's bytes for
// random ops, which recover reads back with encoding/json.
func TestJournalJSON(t *testing.T) {
	g := randomJSON{rand.New(rand.NewPCG(5, 6))}
	for i := range 3000 {
		c := connectors.Op{Action: connectors.Actions[g.r.IntN(len(connectors.Actions))], Object: connectors.Kind(g.r.IntN(2)),
			Key: g.str(), ID: g.str(), Changes: g.changes(), Reason: g.str(), Disabled: g.r.IntN(2) == 0, Group: g.str(), Version: g.str()}
		if g.r.IntN(2) == 0 {
			c.Members = []string{g.str(), g.str()}
		}
		var desired connectors.Attrs
		if n := g.r.IntN(4); n > 0 {
			desired = connectors.Attrs{} // n == 3: empty, which omitempty drops
			for range n % 3 {
				desired[g.str()] = g.value()
			}
		}
		op := plan.NewOp(c, desired)
		if g.r.IntN(2) == 0 {
			op.Hash = g.r.Uint64()
		}
		sameAsEncodingJSON(t, i, op, appendJournalOp(nil, &op))
	}
}

// TestHistoryRedactsItsOwnCopy: a log record shows a sensitive value as
// "(sensitive)", while the op, whose values may still be sent or
// committed, keeps them.
func TestHistoryRedactsItsOwnCopy(t *testing.T) {
	a := &applier{e: &Engine{}, t: &target{cfg: &config.Target{Name: "crm"}}, sensitive: []string{"password"}}
	op := connectors.Op{Action: connectors.Create, Key: "E1", Changes: []connectors.Change{
		{Attr: "name", New: "Ada"}, {Attr: "password", New: "s3cret"}}}
	h, ok := a.historyEntry(op, "applied", nil)
	if !ok {
		t.Fatal("no record for a user op")
	}
	var rec HistoryRecord
	if err := json.Unmarshal(h.Record, &rec); err != nil {
		t.Fatal(err)
	}
	want := []connectors.Change{{Attr: "name", New: "Ada"}, {Attr: "password", New: "(sensitive)"}}
	if diff := cmp.Diff(want, rec.Changes); diff != "" {
		t.Errorf("logged changes (-want +got):\n%s", diff)
	}
	if got := op.Changes[1].New; got != "s3cret" {
		t.Errorf("the op's password became %v after logging it", got)
	}
}

// TestHistoryLogKeepsEachRecord: a batch's records share one buffer, which
// grows as they are added; each still reads as the record of its own op,
// byte for byte, in order.
func TestHistoryLogKeepsEachRecord(t *testing.T) {
	a := &applier{e: &Engine{}, t: &target{cfg: &config.Target{Name: "crm"}}}
	var ops []connectors.Op
	for i := range 40 {
		op := connectors.Op{Action: connectors.Create, Key: fmt.Sprint("E", i)}
		for j := range i % 7 {
			op.Changes = append(op.Changes, connectors.Change{Attr: fmt.Sprint("a", j), New: strings.Repeat("x", 10*i)})
		}
		ops = append(ops, op)
	}
	ops = append(ops, connectors.Op{Action: connectors.AddMember, Object: connectors.Group, Key: "staff"})
	log := newHistoryLog(len(ops), 100) // room for one record: the buffer must grow
	for _, op := range ops {
		log.add(a, op)
	}
	if len(log.entries) != 40 {
		t.Fatalf("%d records, want one for each of the 40 user ops (none for the group)", len(log.entries))
	}
	for i, h := range log.entries {
		want, _ := a.historyEntry(ops[i], "applied", nil)
		if h.Key != ops[i].Key || string(h.Record) != string(want.Record) {
			t.Errorf("record %d: key %s, %s; want %s, %s", i, h.Key, h.Record, ops[i].Key, want.Record)
		}
	}
}
