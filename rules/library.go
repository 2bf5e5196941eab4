package rules

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// library declares idsync's functions beyond CEL's standard and strings
// extension. Every function here is linear in its input, and cost.go
// charges it so.
func library(salt []byte) cel.EnvOption {
	str := func(f func(string) string) cel.OverloadOpt {
		return cel.UnaryBinding(func(v ref.Val) ref.Val { return types.String(f(string(v.(types.String)))) })
	}
	return cel.Lib(libFuncs(append(entraFunctions(salt),
		// Global forms of the strings extension's member functions, so rules
		// can read like Entra expressions: lowerAscii(user.mail).
		cel.Function("lowerAscii", cel.Overload("idsync_lower_ascii", []*cel.Type{cel.StringType}, cel.StringType, str(lowerASCII))),
		cel.Function("upperAscii", cel.Overload("idsync_upper_ascii", []*cel.Type{cel.StringType}, cel.StringType, str(upperASCII))),
		// normalizeDiacritics("José Müller") == "Jose Muller".
		cel.Function("normalizeDiacritics", cel.Overload("idsync_normalize_diacritics", []*cel.Type{cel.StringType}, cel.StringType, str(NormalizeDiacritics))),
		// stripSpaces("Van der Berg") == "VanderBerg".
		cel.Function("stripSpaces", cel.Overload("idsync_strip_spaces", []*cel.Type{cel.StringType}, cel.StringType, str(stripSpaces))),
	)))
}

// linearFuncs are charged a cost proportional to their input's length.
var linearFuncs = map[string]bool{
	"idsync_lower_ascii": true, "idsync_upper_ascii": true,
	"idsync_normalize_diacritics": true, "idsync_strip_spaces": true,
	"idsync_title_case": true, "idsync_parse_date": true, "idsync_regex_replace": true,
}

type libFuncs []cel.EnvOption

func (l libFuncs) CompileOptions() []cel.EnvOption     { return l }
func (l libFuncs) ProgramOptions() []cel.ProgramOption { return nil }

func lowerASCII(s string) string { return mapASCII(s, 'A', 'Z', 'a'-'A') }
func upperASCII(s string) string { return mapASCII(s, 'a', 'z', 'A'-'a') }

// caseRange is the byte range an overload of lowerAscii or upperAscii
// shifts, and by how much; delta is 0 for any other overload.
func caseRange(overload string) (lo, hi byte, delta int) {
	switch overload {
	case "idsync_lower_ascii":
		return 'A', 'Z', 'a' - 'A'
	case "idsync_upper_ascii":
		return 'a', 'z', 'A' - 'a'
	}
	return 0, 0, 0
}

// caseMap is the function of a lowerAscii or upperAscii overload; nil for
// any other overload.
func caseMap(overload string) func(string) string {
	if lo, hi, delta := caseRange(overload); delta != 0 {
		return func(s string) string { return mapASCII(s, lo, hi, delta) }
	}
	return nil
}

// shiftASCII shifts, in place, the bytes of b in lo..hi by delta.
func shiftASCII(b []byte, lo, hi byte, delta int) {
	for i, c := range b {
		b[i] = shift(c, lo, hi, delta)
	}
}

// mapASCII shifts the bytes of s in lo..hi by delta. It returns s itself
// when none is in range, and otherwise copies it once: a byte slice and
// its conversion back were two allocations a call, and a first sync makes
// millions of calls.
func mapASCII(s string, lo, hi byte, delta int) string {
	i := 0
	for i < len(s) && (s[i] < lo || s[i] > hi) {
		i++
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(s[:i])
	for ; i < len(s); i++ {
		b.WriteByte(shift(s[i], lo, hi, delta))
	}
	return b.String()
}

// shift is c shifted by delta if it is in lo..hi.
func shift(c, lo, hi byte, delta int) byte {
	if c >= lo && c <= hi {
		return byte(int(c) + delta)
	}
	return c
}

// unfolded maps letters that Unicode does not decompose into a base letter
// plus a mark, so NFD alone would keep them.
var unfolded = strings.NewReplacer(
	"ø", "o", "Ø", "O", "ł", "l", "Ł", "L", "đ", "d", "Đ", "D", "ß", "ss",
	"æ", "ae", "Æ", "AE", "œ", "oe", "Œ", "OE", "þ", "th", "Þ", "Th", "ı", "i",
)

// NormalizeDiacritics strips accents: decompose, drop combining marks,
// recompose, then map the letters that have no decomposition.
func NormalizeDiacritics(s string) string {
	if isASCII(s) {
		return s // most names: skip the transform and its allocations
	}
	t := transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
	out, _, err := transform.String(t, s)
	if err != nil {
		out = s
	}
	return unfolded.Replace(out)
}

func stripSpaces(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
