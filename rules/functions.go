package rules

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
)

// entraFunctions declares the functions that give rules parity with
// Microsoft Entra's provisioning expressions. salt keys randomString.
func entraFunctions(salt []byte) []cel.EnvOption {
	var opts []cel.EnvOption
	// coalesce(a, b, ...) for 2 to 6 arguments: CEL has no variadic
	// functions, so each arity is an overload.
	var coalesce []cel.FunctionOpt
	for n := 2; n <= 6; n++ {
		args := make([]*cel.Type, n)
		for i := range args {
			args[i] = cel.DynType
		}
		coalesce = append(coalesce, cel.Overload(fmt.Sprintf("idsync_coalesce_%d", n), args, cel.DynType,
			cel.FunctionBinding(func(vs ...ref.Val) ref.Val {
				for _, v := range vs {
					if !isBlank(v) {
						return v
					}
				}
				return types.NullValue
			})))
	}
	opts = append(opts, cel.Function("coalesce", coalesce...))
	opts = append(opts,
		// lookup(map, key, default): Entra's Switch as a table.
		cel.Function("lookup", cel.Overload("idsync_lookup",
			[]*cel.Type{cel.MapType(cel.StringType, cel.DynType), cel.StringType, cel.DynType}, cel.DynType,
			cel.FunctionBinding(func(vs ...ref.Val) ref.Val {
				if v, found := vs[0].(traits.Mapper).Find(vs[1]); found {
					return v
				}
				return vs[2]
			}))),
		// regexReplace(s, pattern, replacement), RE2 syntax, $1 for groups.
		cel.Function("regexReplace", cel.Overload("idsync_regex_replace",
			[]*cel.Type{cel.StringType, cel.StringType, cel.StringType}, cel.StringType,
			cel.FunctionBinding(func(vs ...ref.Val) ref.Val {
				re, err := patterns.compile(string(vs[1].(types.String)))
				if err != nil {
					return types.NewErr("regexReplace: %v", err)
				}
				return types.String(re.ReplaceAllString(string(vs[0].(types.String)), string(vs[2].(types.String))))
			}))),
		// selectUnique(candidates) marks an attribute whose value is the
		// first candidate free in the target and in this run, like Entra's
		// SelectUniqueValue. The engine picks; the function only passes the
		// candidates on, so it must be the whole expression.
		cel.Function(UniqueFunc, cel.Overload("idsync_select_unique", []*cel.Type{cel.ListType(cel.StringType)}, cel.ListType(cel.StringType),
			cel.UnaryBinding(func(v ref.Val) ref.Val { return v }))),
		cel.Function("titleCase", cel.Overload("idsync_title_case", []*cel.Type{cel.StringType}, cel.StringType,
			cel.UnaryBinding(func(v ref.Val) ref.Val { return types.String(titleCase(string(v.(types.String)))) }))),
		cel.Function("parseDate", cel.Overload("idsync_parse_date", []*cel.Type{cel.StringType, cel.StringType}, cel.TimestampType,
			cel.BinaryBinding(func(s, layout ref.Val) ref.Val {
				t, err := time.Parse(goLayout(string(layout.(types.String))), string(s.(types.String)))
				if err != nil {
					return types.NewErr("parseDate: %v", err)
				}
				return types.Timestamp{Time: t.UTC()}
			}))),
		cel.Function("formatDate", cel.Overload("idsync_format_date", []*cel.Type{cel.TimestampType, cel.StringType}, cel.StringType,
			cel.BinaryBinding(func(t, layout ref.Val) ref.Val {
				return types.String(t.(types.Timestamp).UTC().Format(goLayout(string(layout.(types.String)))))
			}))),
		cel.Function("addDays", cel.Overload("idsync_add_days", []*cel.Type{cel.TimestampType, cel.IntType}, cel.TimestampType,
			cel.BinaryBinding(func(t, n ref.Val) ref.Val {
				return types.Timestamp{Time: t.(types.Timestamp).AddDate(0, 0, int(n.(types.Int)))}
			}))),
		cel.Function("daysBetween", cel.Overload("idsync_days_between", []*cel.Type{cel.TimestampType, cel.TimestampType}, cel.IntType,
			cel.BinaryBinding(func(a, b ref.Val) ref.Val {
				return types.Int(b.(types.Timestamp).Sub(a.(types.Timestamp).Time).Hours() / 24)
			}))),
		cel.Function("randomString", cel.Overload("idsync_random_string", []*cel.Type{cel.StringType, cel.IntType}, cel.StringType,
			cel.BinaryBinding(func(seed, n ref.Val) ref.Val {
				if n.(types.Int) < 1 || n.(types.Int) > maxRandomLength {
					return types.NewErr("randomString: length must be 1 to %d", maxRandomLength)
				}
				return types.String(randomString(salt, string(seed.(types.String)), int(n.(types.Int))))
			}))),
	)
	return opts
}

// patternCache keeps compiled patterns: rules use a handful of constant
// patterns, evaluated once per record. It stops growing at maxPatterns, so a
// rule building patterns from data cannot exhaust memory; beyond that,
// patterns are compiled per call.
type patternCache struct {
	mu sync.Mutex
	m  map[string]*regexp.Regexp
}

const maxPatterns = 1000

var patterns = &patternCache{m: map[string]*regexp.Regexp{}}

func (c *patternCache) compile(p string) (*regexp.Regexp, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if re, ok := c.m[p]; ok {
		return re, nil
	}
	re, err := regexp.Compile(p)
	if err == nil && len(c.m) < maxPatterns {
		c.m[p] = re
	}
	return re, err
}

// UniqueFunc is the name of the unique-value function.
const UniqueFunc = "selectUnique"

// maxRandomLength bounds randomString, keeping its cost static.
const maxRandomLength = 256

// isBlank is what coalesce skips: null, "" and empty lists.
func isBlank(v ref.Val) bool {
	switch x := v.(type) {
	case types.Null:
		return true
	case types.String:
		return x == ""
	case traits.Sizer:
		return x.Size() == types.IntZero
	}
	return false
}

// titleCase upper-cases the first letter of every word and lower-cases the
// rest: "jOHN o'brien-smith" becomes "John O'Brien-Smith".
func titleCase(s string) string {
	var b strings.Builder
	start := true
	for _, r := range s {
		if start {
			b.WriteRune(unicode.ToUpper(r))
		} else {
			b.WriteRune(unicode.ToLower(r))
		}
		start = !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}
	return b.String()
}

// layoutTokens turn the yyyy-MM-dd patterns HR people know (and Entra
// uses) into Go layouts. Longer tokens come first so "yyyy" wins over "yy".
var layoutTokens = strings.NewReplacer(
	"yyyy", "2006", "yy", "06", "MMMM", "January", "MMM", "Jan", "MM", "01",
	"dd", "02", "HH", "15", "mm", "04", "ss", "05", "fff", "000", "zzz", "-07:00", "Z", "Z07:00",
)

func goLayout(pattern string) string { return layoutTokens.Replace(pattern) }

const randomAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789!#%+-=?"

// randomString derives n characters from an HMAC of seed under salt: the
// same key always gets the same value, so plans are reproducible, and no
// one can predict it without the salt.
func randomString(salt []byte, seed string, n int) string {
	out := make([]byte, 0, n)
	for block := uint64(0); len(out) < n; block++ {
		mac := hmac.New(sha256.New, salt)
		mac.Write(binary.BigEndian.AppendUint64([]byte(seed), block))
		for _, c := range mac.Sum(nil) {
			if len(out) == n {
				break
			}
			out = append(out, randomAlphabet[int(c)%len(randomAlphabet)])
		}
	}
	return string(out)
}
