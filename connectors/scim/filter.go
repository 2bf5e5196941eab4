package scim

import (
	"fmt"
	"strings"
	"unicode"
)

// quote makes v a SCIM filter string literal. Only backslash and double
// quote are escaped: strict servers reject \uXXXX escapes. Control
// characters cannot be written safely at all, so they are refused.
func quote(v string) (string, error) {
	for _, r := range v {
		if unicode.IsControl(r) {
			return "", fmt.Errorf("value %q has a control character and cannot be used in a SCIM filter", v)
		}
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(v) + `"`, nil
}

// eqFilter is `attr eq "v"` (or `or`-joined for several values).
func eqFilter(attr string, values []string) (string, error) {
	terms := make([]string, len(values))
	for i, v := range values {
		q, err := quote(v)
		if err != nil {
			return "", err
		}
		terms[i] = attr + " eq " + q
	}
	return strings.Join(terms, " or "), nil
}
