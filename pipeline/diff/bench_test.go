package diff

import (
	"testing"

	"github.com/idsync/idsync/connectors"
)

// BenchmarkPresentUpdate measures diffing one changed identity.
func BenchmarkPresentUpdate(b *testing.B) {
	p := Policy{Deprovision: DisableObject}
	want, have := connectors.Attrs{}, connectors.Attrs{}
	for _, name := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"} {
		p.Attrs = append(p.Attrs, AttrPolicy{Name: name})
		want[name], have[name] = "value-"+name, "value-"+name
	}
	want["j"] = "changed"
	d, s := Desired{Key: "E1", InScope: true, Enabled: true, Attrs: want}, &Stored{ID: "1", Attrs: have}
	b.ReportAllocs()
	for b.Loop() {
		if ops := Present(p, d, s); len(ops) != 1 {
			b.Fatal(ops)
		}
	}
}
