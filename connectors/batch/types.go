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
		for _, layout := range timestampLayouts {
			if v, err := time.Parse(layout, s); err == nil {
				return v.UTC(), nil
			}
		}
		return nil, fmt.Errorf("cannot parse %q as timestamp (want RFC 3339 or YYYY-MM-DD)", s)
	}
	return nil, fmt.Errorf("unsupported type %v", t)
}
