package connectors

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEstimateLinesCountsSmallFilesExactly(t *testing.T) {
	dir := t.TempDir()
	for name, tc := range map[string]struct {
		body string
		want int
	}{
		"empty":           {"", 0},
		"one line":        {"id\n", 1},
		"no final end":    {"id\nE1\nE2", 3},
		"blank lines too": {"id\n\n\nE1\n", 4},
	} {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-"))
		if err := os.WriteFile(path, []byte(tc.body), 0o600); err != nil {
			t.Fatal(err)
		}
		if got := EstimateLines(path); got != tc.want {
			t.Errorf("%s: EstimateLines = %d, want %d", name, got, tc.want)
		}
	}
}

func TestEstimateLinesGuessesLargeFilesClosely(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hr.csv")
	var b strings.Builder
	b.WriteString("employeeId,givenName,surname\n")
	const rows = 100_000 // about 3 MB: far past the sample
	for i := range rows {
		// Lengths vary from line to line, as names do.
		fmt.Fprintf(&b, "E%d,%s,%s\n", 100000+i, strings.Repeat("a", 3+i%9), strings.Repeat("b", 4+i%7))
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	got := EstimateLines(path)
	if got < rows*95/100 || got > rows*105/100 {
		t.Errorf("EstimateLines = %d, want within 5%% of %d", got, rows+1)
	}
}

func TestEstimateLinesCannotTell(t *testing.T) {
	dir := t.TempDir()
	long := filepath.Join(dir, "long")
	if err := os.WriteFile(long, []byte(strings.Repeat("x", estimateSample+10)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{filepath.Join(dir, "missing"), dir, long} {
		if got := EstimateLines(path); got != -1 {
			t.Errorf("EstimateLines(%s) = %d, want -1", filepath.Base(path), got)
		}
	}
}
