package plan

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/idsync/idsync/connectors"
)

// compactTarget has one compact create among plain ops: values for a, c
// and d, none for b.
func compactTarget() *Target {
	create := connectors.Op{Action: connectors.Create, Key: "E1", Reason: "new", Disabled: true}
	return &Target{Name: "dir", Attrs: []string{"a", "b", "c", "d"}, Ops: []Op{
		NewOp(connectors.Op{Action: connectors.Create, Object: connectors.Group, Key: "Sales", Group: "Sales"}, nil),
		Compact(create, packed([]connectors.Value{"x", nil, int64(3), []string{"p", "q"}})),
		hashed(NewOp(connectors.Op{Action: connectors.AddMember, Object: connectors.Group, Key: "E1", Group: "Sales"}, nil), 9),
	}}
}

// wantCreate is compactTarget's create as a plain op.
var wantCreate = NewOp(connectors.Op{Action: connectors.Create, Key: "E1", Reason: "new", Disabled: true,
	Changes: []connectors.Change{{Attr: "a", New: "x"}, {Attr: "c", New: int64(3)}, {Attr: "d", New: []string{"p", "q"}}}}, nil)

func TestPlainGivesACompactCreateItsChanges(t *testing.T) {
	tg := compactTarget()
	if !tg.Ops[1].IsCompact() || tg.Ops[1].Changes() != nil {
		t.Fatalf("Compact made %+v", tg.Ops[1])
	}
	var buf PlainBuf
	for i, op := range tg.Ops {
		want := op
		if i == 1 {
			want = wantCreate
		}
		if diff := cmp.Diff(want, tg.Plain(op, &buf), cmp.AllowUnexported(Op{}, opMore{})); diff != "" {
			t.Errorf("op %d (-want +got):\n%s", i, diff)
		}
	}
	if !tg.Ops[1].IsCompact() {
		t.Error("Plain changed the plan's own op")
	}
}

func TestOwnGivesEachOpChangesOfItsOwn(t *testing.T) {
	tg := compactTarget()
	first, second := tg.Own(tg.Ops[1]), tg.Own(tg.Ops[1])
	for i, op := range []Op{first, second} {
		if diff := cmp.Diff(wantCreate, op, cmp.AllowUnexported(Op{}, opMore{})); diff != "" {
			t.Fatalf("own op %d (-want +got):\n%s", i, diff)
		}
	}
	if !tg.Ops[1].IsCompact() {
		t.Error("Own changed the plan's own op")
	}
	first.Changes()[0].New = "changed"
	if second.Changes()[0].New != "x" {
		t.Error("two owned ops share their changes")
	}
	if plain := tg.Own(tg.Ops[0]); !cmp.Equal(plain, tg.Ops[0], cmp.AllowUnexported(Op{}, opMore{})) {
		t.Error("Own changed a plain op")
	}
}

func TestSavedPlanHoldsCompactCreatesInFull(t *testing.T) {
	got := roundTrip(t, &Plan{Version: Version, Targets: []*Target{compactTarget()}})
	want := compactTarget()
	want.Ops[1] = wantCreate
	if diff := cmp.Diff(want.Ops, got.Targets[0].Ops, cmp.AllowUnexported(Op{}, opMore{})); diff != "" {
		t.Errorf("saved plan's ops (-want +got):\n%s", diff)
	}
}

// packed is values packed, which must succeed.
func packed(values []connectors.Value) Packed {
	p, ok := new(Packer).Pack(values)
	if !ok {
		panic(fmt.Sprintf("cannot pack %#v", values))
	}
	return p
}

// hashed is op with its fingerprint set.
func hashed(op Op, hash uint64) Op {
	op.Hash = hash
	return op
}
