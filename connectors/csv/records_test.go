package csv

import (
	stdcsv "encoding/csv"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// readAll reads every record of content with next, as lines of text:
// each record's fields and their positions, or its error.
func readAll(next func() ([]string, error), pos func(int) (int, int)) []string {
	var out []string
	for range 10_000 {
		rec, err := next()
		if errors.Is(err, io.EOF) {
			return append(out, "EOF")
		}
		var pe *stdcsv.ParseError
		line := fmt.Sprintf("%q err=%v", rec, err)
		if err == nil || (errors.As(err, &pe) && errors.Is(pe.Err, stdcsv.ErrFieldCount)) {
			for i := range rec {
				l, c := pos(i)
				line += fmt.Sprintf(" %d:%d", l, c)
			}
		}
		out = append(out, line)
	}
	return append(out, "too many records")
}

// agree reads content with encoding/csv, set as Source sets it, and with
// recordReader, and reports how they differ.
func agree(t *testing.T, content string, comma rune) {
	t.Helper()
	std := stdcsv.NewReader(strings.NewReader(content))
	std.Comma, std.ReuseRecord = comma, true
	want := readAll(std.Read, std.FieldPos)
	ours := newRecordReader(strings.NewReader(content), comma)
	got := readAll(ours.Read, ours.FieldPos)
	if !slices.Equal(want, got) {
		t.Fatalf("content %q, comma %q:\nencoding/csv: %q\nrecordReader: %q", content, comma, want, got)
	}
}

// TestRecordReaderAgreesWithEncodingCSV reads thousands of random inputs
// made of the characters CSV treats specially (commas, quotes, CR, LF)
// and others, and edge cases, both ways: the same records, fields,
// positions and errors, line numbers included.
func TestRecordReaderAgreesWithEncodingCSV(t *testing.T) {
	for _, c := range []string{
		"", "\n", "\n\n", "a", "a\r", "a\r\n", "a,b\r\nc,d", "a\rb,c\n", "a,b\n\nc\n", "a,b\nc\n",
		"a,b\nc,d,e\nf,g\n", "a,\"b\nc\",d\ne,f,g\n", "a,b\nc\"d,e\n\"f\ng\",h\n", "a,\"b\"\"c\",d\n",
		"x,y\n\"unterminated\n", "\"a\"b,c\n", " a , b \n",
		strings.Repeat("z", 1<<20+10) + ",a\nb,c\n", // a line longer than the read buffer
		"a,b\n" + strings.Repeat("z", 1<<20+10) + "\"q\",a\nb,c\n",
	} {
		agree(t, c, ',')
	}
	agree(t, "a;b\nc;d,e\n", ';')
	agree(t, "a€b\nc€\"d\"\n", '€') // encoding/csv reads all of it
	agree(t, "a\"b\n", '"')         // a comma encoding/csv refuses
	tokens := []string{"a", "bc", "é", ",", ",", "\"", "\"\"", "\n", "\n", "\r", "\r\n", " "}
	r := rand.New(rand.NewPCG(5, 8))
	for range 5000 {
		var sb strings.Builder
		for range r.IntN(40) {
			sb.WriteString(tokens[r.IntN(len(tokens))])
		}
		agree(t, sb.String(), ',')
	}
}

// FuzzRecordReader holds recordReader to encoding/csv on any input.
func FuzzRecordReader(f *testing.F) {
	for _, seed := range []string{"a,b\nc,d\n", "a,\"b\nc\"\n", "a\r\n\nb,\"\"\"\"\n", "x\"y,z\n"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, content string) { agree(t, content, ',') })
}
