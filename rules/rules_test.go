package rules

import (
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/go-cmp/cmp"
)

var testSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.BinaryTypes.String},
	{Name: "given", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "age", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "hired", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
}, nil)

// testBatch has two rows; row 1 has null age and hire date.
func testBatch(t testing.TB, mem memory.Allocator) arrow.RecordBatch {
	t.Helper()
	b := array.NewRecordBuilder(mem, testSchema)
	defer b.Release()
	b.Field(0).(*array.StringBuilder).AppendValues([]string{"E1", "E2"}, nil)
	b.Field(1).(*array.StringBuilder).AppendValues([]string{"José", "Zoë"}, nil)
	b.Field(2).(*array.Int64Builder).AppendValues([]int64{41, 0}, []bool{true, false})
	hired := time.Date(2020, 5, 17, 0, 0, 0, 0, time.UTC)
	b.Field(3).(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{arrow.Timestamp(hired.UnixMicro()), 0}, []bool{true, false})
	return b.NewRecordBatch()
}

// people is a batch of testSchema with no hire dates.
func people(mem memory.Allocator, ids, given []string, ages []int64) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, testSchema)
	defer b.Release()
	b.Field(0).(*array.StringBuilder).AppendValues(ids, nil)
	b.Field(1).(*array.StringBuilder).AppendValues(given, nil)
	b.Field(2).(*array.Int64Builder).AppendValues(ages, nil)
	b.Field(3).(*array.TimestampBuilder).AppendNulls(len(ids))
	return b.NewRecordBatch()
}

func newEnv(t *testing.T) *Env {
	t.Helper()
	env, err := NewEnv(testSchema, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func TestCompileReportsEveryIssueWithPosition(t *testing.T) {
	env := newEnv(t)
	_, issues := env.Compile([]Expr{
		{Name: "scope", Text: "user.age > 30", Kind: BoolRule},
		{Name: "a", Text: "user.nope", Kind: ValueRule},
		{Name: "b", Text: "user.given +\n  1", Kind: ValueRule},
		{Name: "c", Text: "user.given", Kind: BoolRule},
		{Name: "d", Text: "{'k': 1}", Kind: ValueRule},
	})
	var got []string
	for _, is := range issues {
		got = append(got, is.Error())
	}
	want := []string{
		"a:1:5: undeclared reference to 'user.nope' (did you mean 'user.age'?)",
		"b:1:12: found no matching overload for '_+_' applied to '(string, int)'",
		"c:1:1: must yield a bool, but yields string",
		"d:1:1: must yield a string, bool, int, double, timestamp, list(string) or null, but yields map(string, int)",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("issues (-want +got):\n%s", diff)
	}
}

func TestCostBudget(t *testing.T) {
	env := newEnv(t)
	progs, issues := env.Compile([]Expr{
		{Name: "cheap", Text: "lowerAscii(user.given) + '@example.com'", Kind: ValueRule},
		// Each split element is repeated: the worst case is far past the budget.
		{Name: "dear", Text: "user.given.split('').map(x, user.given.split('').map(y, x + y)).map(l, l.join('')).join('')", Kind: ValueRule},
	})
	if progs[0] == nil || progs[0].Limited {
		t.Fatalf("cheap rule: got %+v, want a statically bounded program", progs[0])
	}
	if len(issues) != 1 || issues[0].Rule != "dear" || !strings.Contains(issues[0].Message, "exceeds the budget") {
		t.Fatalf("issues = %v, want one budget issue for rule dear", issues)
	}
}

func TestEvalOverBatch(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	env := newEnv(t)
	rec := testBatch(t, mem)
	defer rec.Release()
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := map[string]evalCase{
		"string column":        {text: "user.given", row: 0, want: "José"},
		"normalize diacritics": {text: "normalizeDiacritics(user.given + ' Müller Østergaard Łódź')", row: 0, want: "Jose Muller Ostergaard Lodz"},
		"global lowerAscii":    {text: "lowerAscii('AbC')", want: "abc"},
		"member lowerAscii":    {text: "'AbC'.lowerAscii()", want: "abc"},
		"stripSpaces":          {text: "stripSpaces(' Van der  Berg ')", want: "VanderBerg"},
		"int column":           {text: "user.age + 1", row: 0, want: int64(42)},
		"null int":             {text: "user.age", row: 1, want: nil},
		"null test":            {text: "user.age == null", row: 1, want: true},
		"timestamp":            {text: "user.hired", row: 0, want: "2020-05-17T00:00:00Z"},
		"now":                  {text: "now > user.hired", row: 0, want: true},
		"list":                 {text: "[user.id, 'all']", row: 1, want: []string{"E2", "all"}},
		"second row":           {text: "user.id + ':' + user.given", row: 1, want: "E2:Zoë"},
	}
	runEvalCases(t, env, rec, now, tests)
}

func TestEvalErrorNamesTheProblem(t *testing.T) {
	env := newEnv(t)
	rec := testBatch(t, memory.NewGoAllocator())
	defer rec.Release()
	progs, issues := env.Compile([]Expr{{Name: "a", Text: "user.age + 1", Kind: ValueRule}})
	if len(issues) > 0 {
		t.Fatal(issues)
	}
	ev := env.NewEvaluator(time.Now())
	if err := ev.Bind(rec); err != nil {
		t.Fatal(err)
	}
	if _, err := ev.Eval(progs[0], 1); err == nil || !strings.Contains(err.Error(), "no such overload") {
		t.Errorf("null age + 1: err = %v, want a no-such-overload error", err)
	}
}

func TestUsesNow(t *testing.T) {
	env := newEnv(t)
	progs, _ := env.Compile([]Expr{
		{Name: "a", Text: "now > user.hired", Kind: BoolRule},
		{Name: "b", Text: "user.age > 3", Kind: BoolRule},
	})
	if !progs[0].UsesNow || progs[1].UsesNow {
		t.Errorf("UsesNow = %v, %v; want true, false", progs[0].UsesNow, progs[1].UsesNow)
	}
}

func TestFunctionLibrary(t *testing.T) {
	env, err := NewEnv(testSchema, Options{RandomSalt: []byte("s")})
	if err != nil {
		t.Fatal(err)
	}
	rec := testBatch(t, memory.NewGoAllocator())
	defer rec.Release()
	tests := map[string]evalCase{
		"coalesce skips null and empty":  {text: `coalesce(user.age, 7)`, row: 1, want: int64(7)},
		"coalesce keeps the first value": {text: `coalesce("", user.given, "x")`, row: 0, want: "José"},
		"coalesce of nothing is null":    {text: `coalesce(null, "")`, want: nil},
		"lookup hit":                     {text: `lookup({"E1": "one"}, user.id, "other")`, row: 0, want: "one"},
		"lookup default":                 {text: `lookup({"E1": "one"}, user.id, "other")`, row: 1, want: "other"},
		"regex replace":                  {text: `regexReplace("a1b22c", "[0-9]+", "-")`, want: "a-b-c"},
		"regex replace with groups":      {text: `regexReplace("Smith, John", "^(\\w+), (\\w+)$", "$2 $1")`, want: "John Smith"},
		"split and join":                 {text: `"a,b,c".split(",").join("|")`, want: "a|b|c"},
		"title case":                     {text: `titleCase("jOHN o'brien-smith")`, want: "John O'Brien-Smith"},
		"parse and format a date":        {text: `formatDate(parseDate("31.12.2024", "dd.MM.yyyy"), "yyyy-MM-dd")`, want: "2024-12-31"},
		"add days":                       {text: `formatDate(addDays(user.hired, 30), "yyyyMMdd")`, row: 0, want: "20200616"},
		"days between":                   {text: `daysBetween(user.hired, timestamp("2020-06-16T00:00:00Z"))`, row: 0, want: int64(30)},
		"random string is per key":       {text: `randomString(user.id, 12) != randomString("E2", 12)`, row: 0, want: true},
		"random string is reproducible":  {text: `randomString(user.id, 12) == randomString("E1", 12)`, row: 0, want: true},
		"random string length":           {text: `size(randomString(user.id, 20))`, row: 0, want: int64(20)},
	}
	runEvalCases(t, env, rec, time.Now(), tests)
}

func TestRandomStringDependsOnSalt(t *testing.T) {
	a, b := randomString([]byte("one"), "E1", 16), randomString([]byte("two"), "E1", 16)
	if a == b || len(a) != 16 {
		t.Errorf("salted values %q and %q: want different 16-character strings", a, b)
	}
}

// evalCase is one expression evaluated on one row of testBatch.
type evalCase struct {
	text string
	row  int
	want any
}

func runEvalCases(t *testing.T, env *Env, rec arrow.RecordBatch, now time.Time, tests map[string]evalCase) {
	t.Helper()
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			progs, issues := env.Compile([]Expr{{Name: name, Text: tc.text, Kind: ValueRule}})
			if len(issues) > 0 {
				t.Fatalf("%s: compile: %v", name, issues)
			}
			ev := env.NewEvaluator(now)
			if err := ev.Bind(rec); err != nil {
				t.Fatal(err)
			}
			got, err := ev.Eval(progs[0], tc.row)
			if err != nil {
				t.Fatalf("%s: eval: %v", name, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s: %s (-want +got):\n%s", name, tc.text, diff)
			}
		})
	}
}

// TestYields: the checker's output type reaches the program, so typeless
// targets can read back what they stored; dyn and null stay unknown.
func TestYields(t *testing.T) {
	env := newEnv(t)
	cases := map[string]string{
		`user.id`:                      "string",
		`user.age > 18`:                "bool",
		`user.age`:                     "int",
		`["a", user.id]`:               "list",
		`user.hired`:                   "timestamp",
		`null`:                         "",
		`selectUnique([user.id, "x"])`: "string",
	}
	for text, want := range cases {
		progs, issues := env.Compile([]Expr{{Name: "a", Text: text, Kind: ValueRule}})
		if len(issues) > 0 {
			t.Fatalf("%s: %v", text, issues)
		}
		if got := progs[0].Yields; got != want {
			t.Errorf("%s yields %q, want %q", text, got, want)
		}
	}
}
