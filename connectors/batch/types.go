package batch

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
)

// Type is a declared column type.
type Type uint8

const (
	String Type = iota + 1
	Int
	Float
	Bool
	Timestamp
)

// TypeNames lists the spellings accepted in config, for error messages.
const TypeNames = "string, int, float, bool, timestamp"

// ParseType reads a config spelling.
func ParseType(s string) (Type, error) {
	switch s {
	case "string":
		return String, nil
	case "int":
		return Int, nil
	case "float":
		return Float, nil
	case "bool":
		return Bool, nil
	case "timestamp":
		return Timestamp, nil
	}
	return 0, fmt.Errorf("unknown type %q (want one of %s)", s, TypeNames)
}

func (t Type) String() string {
	switch t {
	case String:
		return "string"
	case Int:
		return "int"
	case Float:
		return "float"
	case Bool:
		return "bool"
	case Timestamp:
		return "timestamp"
	}
	return fmt.Sprintf("Type(%d)", uint8(t))
}

// Arrow is the Arrow type a column of this type is stored as.
func (t Type) Arrow() arrow.DataType {
	switch t {
	case Int:
		return arrow.PrimitiveTypes.Int64
	case Float:
		return arrow.PrimitiveTypes.Float64
	case Bool:
		return arrow.FixedWidthTypes.Boolean
	case Timestamp:
		return &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	}
	return arrow.BinaryTypes.String
}

// Column is one declared column.
type Column struct {
	Name string
	Type Type
}

// timestampLayouts are tried in order. HR exports mix full timestamps and
// plain dates; a date means midnight UTC.
var timestampLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"}

// ParseText converts a text cell to the column's Go value. An empty cell is
// "" for strings and nil (null) for every other type: there is no
// meaningful empty number or date.
func ParseText(t Type, s string) (any, error) {
	if t == String {
		return s, nil
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	switch t {
	case Int:
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("cannot parse %q as int", s)
		}
		return v, nil
	case Float:
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("cannot parse %q as float", s)
		}
		return v, nil
	case Bool:
		v, err := strconv.ParseBool(strings.ToLower(s))
		if err != nil {
			return nil, fmt.Errorf("cannot parse %q as bool", s)
		}
		return v, nil
	case Timestamp:
		v, err := parseTimestamp(s)
		if err != nil {
			return nil, err
		}
		return v, nil
	}
	return nil, fmt.Errorf("unsupported type %v", t)
}

// parseTimestamp reads a trimmed, non-empty timestamp cell.
func parseTimestamp(s string) (time.Time, error) {
	if v, ok := parseDate(s); ok {
		return v, nil
	}
	for _, layout := range timestampLayouts {
		if v, err := time.Parse(layout, s); err == nil {
			return v.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("cannot parse %q as timestamp (want RFC 3339 or YYYY-MM-DD)", s)
}

// parseDate reads a valid YYYY-MM-DD date without time.Parse, which HR
// exports' date columns spend most of a read in: the layouts before the
// date-only one each fail, and a failed time.Parse allocates its error.
// Anything else, an invalid date included, is left to time.Parse (ok is
// false), so both paths accept exactly the same strings.
func parseDate(s string) (time.Time, bool) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return time.Time{}, false
	}
	year, ok1 := decimal(s[0:4])
	month, ok2 := decimal(s[5:7])
	day, ok3 := decimal(s[8:10])
	if !ok1 || !ok2 || !ok3 || month < 1 || month > 12 || day < 1 || day > daysIn(year, month) {
		return time.Time{}, false
	}
	// Two calls of time.Date, which normalises its fields and looks up
	// the zone, were most of this function.
	return time.Unix(daysSinceEpoch(year, month, day)*86400, 0).UTC(), true
}

// decimal reads digits only: no sign, no space.
func decimal(s string) (int, bool) {
	n := 0
	for i := range len(s) {
		c := s[i] - '0'
		if c > 9 {
			return 0, false
		}
		n = n*10 + int(c)
	}
	return n, true
}

var monthDays = [13]int{0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}

func daysIn(year, month int) int {
	if month == 2 && year%4 == 0 && (year%100 != 0 || year%400 == 0) {
		return 29
	}
	return monthDays[month]
}

// daysSinceEpoch counts days from 1970-01-01 to a date of the proleptic
// Gregorian calendar, as time does: years are counted from March, so a
// leap day ends its year, and whole 400-year eras hold 146,097 days
// (Howard Hinnant's days_from_civil).
func daysSinceEpoch(year, month, day int) int64 {
	if month <= 2 {
		year--
	}
	era := year / 400
	if year < 0 {
		era = (year - 399) / 400
	}
	yearOfEra := year - era*400
	shifted := month - 3 // March is 0
	if shifted < 0 {
		shifted += 12
	}
	dayOfYear := (153*shifted+2)/5 + day - 1
	dayOfEra := yearOfEra*365 + yearOfEra/4 - yearOfEra/100 + dayOfYear
	return int64(era)*146097 + int64(dayOfEra) - 719468
}
