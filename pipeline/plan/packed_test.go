package plan

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/idsync/idsync/connectors"
)

// TestPackReadsBackEachKind packs values of every kind, at the edges of
// their encodings, and reads them back as they were.
func TestPackReadsBackEachKind(t *testing.T) {
	long := strings.Repeat("é", 200) // a length of two varint bytes
	values := []connectors.Value{
		nil, "", "Zoë", long, true, false,
		int64(0), int64(-1), int64(63), int64(-64), int64(1 << 40), int64(math.MinInt64), int64(math.MaxInt64),
		0.5, -1e300, math.Inf(1), []string{}, []string{"a", "", long}, nil,
	}
	for _, k := range []*Packer{nil, new(Packer)} {
		p, ok := k.Pack(values)
		if !ok {
			t.Fatal("Pack refused values of the listed types")
		}
		for _, v := range (&Op{values: p}).Values(nil) {
			if s, isString := v.String(); isString != (v.Value() != nil && s == v.Value()) {
				t.Errorf("String() of %#v: %q, %v", v.Value(), s, isString)
			}
		}
		if diff := cmp.Diff(values, unpacked(p)); diff != "" {
			t.Errorf("read back (-packed +read):\n%s", diff)
		}
	}
}

// unpacked is p's values as connectors.Values.
func unpacked(p Packed) []connectors.Value {
	var out []connectors.Value
	for _, v := range (&Op{values: p}).Values(nil) {
		out = append(out, v.Value())
	}
	return out
}

// TestPackRefusesOtherTypes: a value no target takes, or a nil list
// (printed as null where an empty one prints []), is left to a plain op.
func TestPackRefusesOtherTypes(t *testing.T) {
	for _, v := range []connectors.Value{1, float32(1), []string(nil), map[string]any{}} {
		if _, ok := new(Packer).Pack([]connectors.Value{"x", v}); ok {
			t.Errorf("Pack took %#v", v)
		}
	}
}

// TestPackerSharesBlocksAndCopies: creates packed one after another
// share a block until it is full, and keep none of the memory their
// values were in.
func TestPackerSharesBlocksAndCopies(t *testing.T) {
	src := []byte("Ada Lovelace")
	name := unsafe.String(&src[0], 3)
	k := new(Packer)
	first, _ := k.Pack([]connectors.Value{name, []string{name}})
	second, _ := k.Pack([]connectors.Value{"Grace", []string{"Hopper"}})
	copy(src, "XXX")
	for p, want := range map[Packed][]connectors.Value{first: {"Ada", []string{"Ada"}}, second: {"Grace", []string{"Hopper"}}} {
		if diff := cmp.Diff(want, unpacked(p)); diff != "" {
			t.Errorf("read back (-packed +read):\n%s", diff)
		}
	}
	if end := unsafe.Add(unsafe.Pointer(unsafe.StringData(string(first))), len(first)); end != unsafe.Pointer(unsafe.StringData(string(second))) {
		t.Error("two small creates are not side by side in one block")
	}
	// Filling the block moves on to a new one; what was packed stays.
	long := strings.Repeat("x", 1000)
	var all []Packed
	for range 2 * packBlock / 1000 {
		p, _ := k.Pack([]connectors.Value{long})
		all = append(all, p)
	}
	for i, p := range all {
		if got := unpacked(p); len(got) != 1 || got[0] != long {
			t.Fatalf("create %d read back wrong", i)
		}
	}
	if diff := cmp.Diff([]connectors.Value{"Ada", []string{"Ada"}}, unpacked(first)); diff != "" {
		t.Errorf("first create after new blocks (-want +got):\n%s", diff)
	}
}

// TestPackRandomValues packs random rows of random kinds.
func TestPackRandomValues(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	str := func() string {
		b := make([]byte, r.IntN(300))
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		return string(b)
	}
	k := new(Packer)
	for range 2000 {
		values := make([]connectors.Value, r.IntN(12))
		for i := range values {
			switch r.IntN(6) {
			case 1:
				values[i] = str()
			case 2:
				values[i] = r.IntN(2) == 0
			case 3:
				values[i] = int64(r.Uint64())
			case 4:
				values[i] = r.NormFloat64() * 1e10
			case 5:
				list := make([]string, r.IntN(4))
				for j := range list {
					list[j] = str()
				}
				values[i] = list
			}
		}
		p, ok := k.Pack(values)
		if !ok {
			t.Fatalf("Pack refused %#v", values)
		}
		if diff := cmp.Diff(values, unpacked(p), cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("read back (-packed +read):\n%s", diff)
		}
	}
}
