package planfmt

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/idsync/idsync/connectors"
	"github.com/idsync/idsync/pipeline/plan"
)

// referenceJSONL is the line format written the obvious way, with
// encoding/json: the hand-written JSONL must produce the same bytes.
func referenceJSONL(t *testing.T, p *plan.Plan) string {
	t.Helper()
	var b strings.Builder
	enc := json.NewEncoder(&b)
	for _, tg := range p.Targets {
		for _, op := range tg.Ops {
			op = redact(tg, op)
			line := jsonOp{Target: tg.Name, Action: op.Action, Object: op.Object.String(), Key: op.Key, ID: op.ID(),
				Group: op.Group, Disabled: op.Disabled, Reason: op.Reason, Held: tg.Guard != nil && op.Action.Destructive()}
			if op.Action == connectors.AddMember || op.Action == connectors.RemoveMember {
				line.Object, line.Member = "group", op.Key
			}
			for _, c := range op.Changes() {
				if line.Changes == nil {
					line.Changes = connectors.Attrs{}
				}
				line.Changes[c.Attr] = c.New
				if op.Action == connectors.Update || op.Action == connectors.Adopt {
					if line.Before == nil {
						line.Before = connectors.Attrs{}
					}
					line.Before[c.Attr] = c.Old
				}
			}
			if err := enc.Encode(line); err != nil {
				t.Fatal(err)
			}
		}
	}
	return b.String()
}

// randomString mixes the cases appendString treats differently: plain
// ASCII, names with diacritics, characters JSON or HTML must escape, line
// separators and invalid UTF-8.
func randomString(r *rand.Rand) string {
	parts := []string{"", "a", "Zoë", "O'Brien", `"`, `\`, "<", ">", "&", "\n", "\x01", "\u2028", "\u2029", "\xff", "é", "日本", " ", "E100"}
	var b strings.Builder
	for range r.IntN(5) {
		b.WriteString(parts[r.IntN(len(parts))])
	}
	return b.String()
}

func randomValue(r *rand.Rand) connectors.Value {
	switch r.IntN(7) {
	case 0:
		return nil
	case 1:
		return r.IntN(2) == 0
	case 2:
		return int64(r.IntN(1000) - 500)
	case 3:
		return r.Float64() * 1e6
	case 4:
		if r.IntN(3) == 0 {
			return []string(nil)
		}
		l := make([]string, r.IntN(3))
		for i := range l {
			l[i] = randomString(r)
		}
		return l
	}
	return randomString(r)
}

func TestJSONLMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	actions := []connectors.Action{connectors.Create, connectors.Adopt, connectors.Update, connectors.Disable,
		connectors.Enable, connectors.Delete, connectors.AddMember, connectors.RemoveMember}
	attrs := []string{"a", "b", "mail", "name", "<x>", "é"}
	// all gathers every case's ops into one plan at the end, big enough
	// to be encoded in many chunks side by side.
	all := &plan.Plan{}
	for i := range 2000 {
		tg := &plan.Target{Name: randomString(r)}
		if r.IntN(2) == 0 {
			tg.Guard = &plan.Guard{Reason: "max-deletes"}
		}
		if r.IntN(4) == 0 {
			tg.Sensitive = []string{"mail"}
		}
		for range 1 + r.IntN(6) {
			op := connectors.Op{Action: actions[r.IntN(len(actions))], Object: connectors.Kind(r.IntN(2)),
				Key: randomString(r), ID: randomString(r), Group: randomString(r), Reason: randomString(r), Disabled: r.IntN(2) == 0}
			for range r.IntN(5) { // attributes may repeat: the last one wins, as in a map
				op.Changes = append(op.Changes, connectors.Change{Attr: attrs[r.IntN(len(attrs))], Old: randomValue(r), New: randomValue(r)})
			}
			tg.Ops = append(tg.Ops, plan.NewOp(op, nil))
		}
		p := &plan.Plan{Targets: []*plan.Target{tg}}
		checkJSONL(t, fmt.Sprint("case ", i), p)
		if i%1000 == 0 {
			all.Targets = append(all.Targets, &plan.Target{Name: tg.Name, Guard: tg.Guard, Sensitive: tg.Sensitive})
		}
		last := all.Targets[len(all.Targets)-1]
		last.Ops = append(last.Ops, tg.Ops...)
	}
	checkJSONL(t, "all cases in one plan", all)

	// Runs of ops naming the same attributes in the same order (as a
	// target's creates do), now and then one that differs: the remembered
	// order must be reused only while the names match. Enough of them for
	// many rounds of chunks, each formatted while the one before is written.
	same := &plan.Target{Name: "same"}
	names := []string{"name", "a", "mail", "a", "é"}
	for i := range 30000 {
		op := connectors.Op{Action: connectors.Create, Key: randomString(r)}
		for j, n := range names {
			if i%97 == 0 && j == 2 {
				n = "<x>"
			}
			if i%89 == 0 && j == 4 {
				continue
			}
			op.Changes = append(op.Changes, connectors.Change{Attr: n, New: randomValue(r)})
		}
		same.Ops = append(same.Ops, plan.NewOp(op, nil))
	}
	checkJSONL(t, "runs of the same attributes", &plan.Plan{Targets: []*plan.Target{same}})
}

func checkJSONL(t *testing.T, name string, p *plan.Plan) {
	t.Helper()
	var got strings.Builder
	if err := JSONL(&got, p); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(referenceJSONL(t, p), got.String()); diff != "" {
		t.Fatalf("%s: JSONL differs from encoding/json (-want +got):\n%s", name, diff)
	}
}
