package rules

import (
	"math/rand/v2"
	"testing"
)

// TestASCIICaseMapsOnlyASCIILetters checks lowerAscii and upperAscii on
// random strings of ASCII and multi-byte characters against a byte-wise
// reference, and that neither touches a string with nothing to change.
func TestASCIICaseMapsOnlyASCIILetters(t *testing.T) {
	ref := func(s string, lo, hi byte, delta int) string {
		b := []byte(s)
		for i, c := range b {
			if c >= lo && c <= hi {
				b[i] = byte(int(c) + delta)
			}
		}
		return string(b)
	}
	r := rand.New(rand.NewPCG(7, 8))
	pieces := []string{"a", "Z", "m", "Q", "0", "@", "[", "`", "{", " ", "é", "É", "ß", "Σ", "\x00", "\xff"}
	for range 5000 {
		s := ""
		for range r.IntN(12) {
			s += pieces[r.IntN(len(pieces))]
		}
		if got, want := lowerASCII(s), ref(s, 'A', 'Z', 'a'-'A'); got != want {
			t.Fatalf("lowerASCII(%q) = %q, want %q", s, got, want)
		}
		if got, want := upperASCII(s), ref(s, 'a', 'z', 'A'-'a'); got != want {
			t.Fatalf("upperASCII(%q) = %q, want %q", s, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = lowerASCII("already lower, ça va") }); n != 0 {
		t.Errorf("lowerASCII allocated %v times for a string with no capital", n)
	}
}
