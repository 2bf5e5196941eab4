package plan

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/idsync/idsync/connectors"
)

func TestSavedPlanRoundTripsExactTypes(t *testing.T) {
	p := &Plan{Version: Version, Now: time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC), Sources: []Source{{Name: "hr", Full: true, Targets: []string{"dir"}}}, Targets: []*Target{{
		Name: "dir", Serial: 7, Managed: 2,
		Ops: []Op{hashed(NewOp(
			connectors.Op{Action: connectors.Update, Key: "E1", ID: "1", Reason: "changed",
				Changes: []connectors.Change{{Attr: "level", Old: int64(2), New: int64(3)}, {Attr: "groups", Old: []string{"a"}, New: []string{"a", "b"}}}},
			connectors.Attrs{"level": int64(3), "ratio": 0.5, "groups": []string{"a", "b"}, "active": true}),
			18446744073709551615, // above 2^53: must survive JSON exactly
		)},
		Guard: &Guard{Reason: "max-deletes", Count: 3, Limit: 2},
	}}}
	if diff := cmp.Diff(p, roundTrip(t, p), cmp.AllowUnexported(Op{}, opMore{})); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

// roundTrip writes p and reads it back.
func roundTrip(t *testing.T, p *Plan) *Plan {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, p); err != nil {
		t.Fatal(err)
	}
	got, err := Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestReadRefusesOtherVersions(t *testing.T) {
	_, err := Read(strings.NewReader(`{"version": 99}`))
	if err == nil || !strings.Contains(err.Error(), "plan format v99 is not supported") {
		t.Errorf("err = %v, want a version refusal", err)
	}
}

// TestWriteHasThePlansJSONShape: the streamed file is the same JSON
// document encoding/json makes of the whole plan, including targets with
// no ops, a string that reads like the ops field, and rejects.
func TestWriteHasThePlansJSONShape(t *testing.T) {
	op := hashed(NewOp(connectors.Op{Action: connectors.Create, Key: "E1", Changes: []connectors.Change{{Attr: "n", New: "x"}}}, nil), 5)
	for _, p := range []*Plan{
		{Version: Version},
		{Version: Version, Sources: []Source{{Name: "hr"}}, Targets: []*Target{
			{Name: "a", Ops: []Op{op, op}, Refresh: []Refresh{{Key: "E2", Hash: 1}}},
			{Name: `"ops":null`, Skipped: `"ops":null`},
			{Name: "c", Ops: []Op{}},
		}, Rejects: []Reject{{Source: "hr", Line: 3, Reason: "bad"}}},
	} {
		var got bytes.Buffer
		if err := Write(&got, p); err != nil {
			t.Fatal(err)
		}
		want, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		var g, w any
		if err := json.Unmarshal(got.Bytes(), &g); err != nil {
			t.Fatalf("written plan is not JSON: %v\n%s", err, got.String())
		}
		if err := json.Unmarshal(want, &w); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(w, g); diff != "" {
			t.Errorf("written plan's shape (-encoding/json +Write):\n%s", diff)
		}
	}
}
