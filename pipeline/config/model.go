package config

// Config is a loaded, validated configuration.
type Config struct {
	// File is the config file's path as given; Dir is its directory, which
	// relative paths resolve against.
	File, Dir string
	// State is the state directory. Defaults to ".idsync" beside the file.
	State string
	// Sources and Targets are in file order.
	Sources []*Source
	Targets []*Target
}

// Source is one identity source.
type Source struct {
	Name string
	Line int
	// Type is "csv" or "jsonl".
	Type string
	Path string
	// Key names the column that anchors identities (for example employeeId).
	Key     string
	Columns []Column
	// Delimiter is the CSV field separator. Defaults to ','.
	Delimiter rune
	// MaxFieldBytes bounds any one field; longer records are rejected.
	// Defaults to 4 KiB.
	MaxFieldBytes int
}

// Column is one declared schema column; Type is a batch type name.
type Column struct {
	Name string
	Type string
	Line int
}

// Target is one system idsync provisions into.
type Target struct {
	Name string
	Line int
	// Type is "sqlite" or "jsonl".
	Type string
	Path string
	// Table is the sqlite table. Defaults to "users".
	Table string
	// Source names the source whose identities feed this target.
	Source string
	// Scope decides whether an identity belongs in the target. Empty means
	// every identity.
	Scope Rule
	// Match names the attribute used to find and adopt pre-existing objects.
	// Empty disables adoption.
	Match      string
	Attributes []*Attribute
	// Deprovision is "disable" (default), "delete" or "ignore".
	Deprovision string
	Safety      Safety
}

// Attribute maps a target attribute to a rule.
type Attribute struct {
	Name string
	Rule Rule
	// IgnoreCase compares old and new values case-insensitively, for
	// attributes the target treats so; a case-only change is not sent.
	IgnoreCase bool
	// ClearOnNull clears the target value when the rule yields null.
	// Defaults to false: a gap in source data leaves the target alone.
	ClearOnNull bool
}

// Rule is a CEL expression with where it sits in the file.
type Rule struct {
	Text string
	// Line and Column (1-based) are where the expression's first character
	// is in the file.
	Line, Column int
}

// Safety bounds how much one run may remove.
type Safety struct {
	// MaxDeletes stops a run that would disable or delete more objects.
	// Defaults to 500 (Microsoft Entra's accidental-deletion default).
	MaxDeletes int
	// MaxDeletePercent stops a run that would disable or delete more than
	// this share of the target's managed objects. 0 (the default) is off.
	MaxDeletePercent float64
}

// DefaultMaxDeletes is the default for Safety.MaxDeletes.
const DefaultMaxDeletes = 500

// SourceByName returns the named source, or nil.
func (c *Config) SourceByName(name string) *Source {
	for _, s := range c.Sources {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// TargetByName returns the named target, or nil.
func (c *Config) TargetByName(name string) *Target {
	for _, t := range c.Targets {
		if t.Name == name {
			return t
		}
	}
	return nil
}
