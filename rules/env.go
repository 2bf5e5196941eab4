package rules

import (
	"fmt"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/ext"
	"github.com/apache/arrow-go/v18/arrow"
)

// Options configure an Env. Zero values take the stated defaults.
type Options struct {
	// Prefix is the variable the record's fields hang off: "user" makes
	// column givenName readable as user.givenName. Defaults to "user".
	Prefix string
	// MaxStringBytes is the longest string a source can hand a rule. It
	// makes static cost estimates finite; sources must enforce it. Defaults
	// to 4 KiB, the sources' default.
	MaxStringBytes uint64
	// RandomSalt keys randomString. Without one, its values follow from
	// the seed alone, which is fine for ids but not for initial passwords.
	RandomSalt []byte
}

// NowVar is the variable holding the run's clock. It is fixed per run (and
// by --now), so plans are reproducible.
const NowVar = "now"

// Env is a CEL environment typed by one source schema.
type Env struct {
	cel    *cel.Env
	schema *arrow.Schema
	opts   Options
	// cols maps a qualified variable ("user.givenName") to its column index.
	cols map[string]int
	// byText is the first program compiled from each rule text, so that a
	// second one shares its memo slot (see Program.memo); slots counts them.
	byText map[string]*Program
	slots  int
}

// NewEnv declares one variable per schema column. Columns whose Arrow type
// has no CEL counterpart are an error: a rule could not read them.
func NewEnv(schema *arrow.Schema, opts Options) (*Env, error) {
	if opts.Prefix == "" {
		opts.Prefix = "user"
	}
	if opts.MaxStringBytes == 0 {
		opts.MaxStringBytes = 4 << 10
	}
	decls := []cel.EnvOption{
		// Not cel.OptionalTypes (nor ext.Regex, which needs it): with it on,
		// a misspelt user.field is reported as "undeclared reference to
		// 'user'" instead of naming the field and suggesting the right one.
		ext.Strings(),
		ext.Lists(),
		ext.Sets(),
		library(opts.RandomSalt),
		cel.Variable(NowVar, cel.TimestampType),
		// Homogeneous literals catch ["a", 1] mistakes at load time.
		cel.HomogeneousAggregateLiterals(),
	}
	cols := make(map[string]int, len(schema.Fields()))
	for i, f := range schema.Fields() {
		t, err := celType(f.Type)
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", f.Name, err)
		}
		// Sources give "" for a missing string but null for a missing
		// number, bool or date; nullable types let rules test for it
		// (user.hireDate == null) while still type-checking its use.
		if f.Nullable && f.Type.ID() != arrow.STRING {
			t = types.NewNullableType(t)
		}
		name := opts.Prefix + "." + f.Name
		cols[name] = i
		decls = append(decls, cel.Variable(name, t))
	}
	env, err := cel.NewEnv(decls...)
	if err != nil {
		return nil, err
	}
	return &Env{cel: env, schema: schema, opts: opts, cols: cols}, nil
}

// Schema is the schema the env was built from.
func (e *Env) Schema() *arrow.Schema { return e.schema }

func celType(t arrow.DataType) (*cel.Type, error) {
	switch t.ID() {
	case arrow.STRING:
		return cel.StringType, nil
	case arrow.INT64:
		return cel.IntType, nil
	case arrow.FLOAT64:
		return cel.DoubleType, nil
	case arrow.BOOL:
		return cel.BoolType, nil
	case arrow.TIMESTAMP:
		return cel.TimestampType, nil
	}
	return nil, fmt.Errorf("arrow type %s is not supported in rules", t)
}
