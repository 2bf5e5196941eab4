package pipeline

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/idsync/idsync/connectors"
)

// TestEncodeChangesIsTheMapsEncoding: a create's state encoded straight
// from its changes is byte for byte the encoding of the map they make, for
// random changes: every value type, names out of order and repeated (the
// last one wins, as in the map), none at all.
func TestEncodeChangesIsTheMapsEncoding(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	values := []func() connectors.Value{
		func() connectors.Value { return fmt.Sprintf("v%d \"é\"\n", r.IntN(100)) },
		func() connectors.Value { return r.IntN(2) == 0 },
		func() connectors.Value { return int64(r.IntN(1000) - 500) },
		func() connectors.Value { return r.Float64() },
		func() connectors.Value { return []string{"b", fmt.Sprint(r.IntN(9))} },
		func() connectors.Value { return nil },
	}
	for range 2000 {
		changes := make([]connectors.Change, r.IntN(20))
		for i := range changes {
			changes[i] = connectors.Change{Attr: fmt.Sprintf("a%d", r.IntN(12)), New: values[r.IntN(len(values))]()}
		}
		want, err := encodeAttrs(connectors.Op{Changes: changes}.Attrs())
		if err != nil {
			t.Fatal(err)
		}
		if got := encodeChanges(changes); string(got) != string(want) {
			t.Fatalf("changes %v:\nencodeChanges %s\nencodeAttrs   %s", changes, got, want)
		}
	}
}
