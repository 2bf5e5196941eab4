package batch

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// agreesWithTimeParse fails t unless parseDate accepts s exactly when
// time.Parse's date layout does, with the same instant.
func agreesWithTimeParse(t *testing.T, s string) {
	t.Helper()
	got, ok := parseDate(s)
	want, err := time.Parse("2006-01-02", s)
	if ok != (err == nil) || ok && !got.Equal(want) {
		t.Fatalf("parseDate(%q) = %v, %v; time.Parse = %v, %v", s, got, ok, want, err)
	}
}

func TestParseDateAgreesWithTimeParse(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	// Every day of some leap and common years, and the days just past each
	// month's end.
	for _, year := range []int{0, 1900, 1999, 2000, 2023, 2024, 2100, 9999} {
		for month := 0; month <= 13; month++ {
			for day := 0; day <= 32; day++ {
				agreesWithTimeParse(t, fmt.Sprintf("%04d-%02d-%02d", year, month, day))
			}
		}
	}
	// Random mutations of a valid date: a byte replaced, dropped or added.
	const alphabet = "0123456789-+ T:Z/a\x00\xff"
	for range 200000 {
		b := []byte(fmt.Sprintf("%04d-%02d-%02d", rng.IntN(10000), 1+rng.IntN(12), 1+rng.IntN(28)))
		switch rng.IntN(3) {
		case 0:
			b[rng.IntN(len(b))] = alphabet[rng.IntN(len(alphabet))]
		case 1:
			i := rng.IntN(len(b))
			b = append(b[:i], b[i+1:]...)
		case 2:
			i := rng.IntN(len(b) + 1)
			b = append(b[:i], append([]byte{alphabet[rng.IntN(len(alphabet))]}, b[i:]...)...)
		}
		agreesWithTimeParse(t, string(b))
	}
}

func FuzzParseDate(f *testing.F) {
	for _, s := range []string{"2024-02-29", "2023-02-29", "2024-13-01", "2024-1-01", "+024-01-01"} {
		f.Add(s)
	}
	f.Fuzz(agreesWithTimeParse)
}

// TestBuilderStoresWhatParseTextReads builds cells of every type through
// SetText, which stores strings and dates unboxed, and checks each value
// read back from the batch against ParseText.
func TestBuilderStoresWhatParseTextReads(t *testing.T) {
	cols := []Column{{"s", String}, {"i", Int}, {"f", Float}, {"b", Bool}, {"ts", Timestamp}}
	cells := [][]string{
		{" a ", "42", "2.5", "TRUE", "2024-02-29"},
		{"", " ", "", "false", " 2024-02-29T10:00:00+02:00 "},
		{"ü", "-7", "1e3", "0", ""},
	}
	b := NewBuilder(cols, false, Options{})
	defer b.Release()
	for line, row := range cells {
		b.Begin()
		for i, v := range row {
			if err := b.SetText(i, v); err != nil {
				t.Fatalf("row %d col %s: %v", line, cols[i].Name, err)
			}
		}
		b.Commit(int64(line), false)
	}
	rec := b.Flush()
	defer rec.Release()
	for line, row := range cells {
		for i, v := range row {
			want, err := ParseText(cols[i].Type, v)
			if err != nil {
				t.Fatal(err)
			}
			got := rec.Column(i).GetOneForMarshal(line)
			if want == nil {
				if !rec.Column(i).IsNull(line) {
					t.Errorf("row %d col %s: got %v, want null", line, cols[i].Name, got)
				}
				continue
			}
			if w, ok := want.(time.Time); ok {
				want = w.Format("2006-01-02T15:04:05Z")
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("row %d col %s: got %v, want %v", line, cols[i].Name, got, want)
			}
		}
	}
}
