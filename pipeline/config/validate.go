package config

import (
	"strings"

	"go.yaml.in/yaml/v3"
)

// validate checks cross-references and required fields. Rules are checked
// later by the rules package, against the source schema.
func (d *decoder) validate(cfg *Config, root *yaml.Node) {
	if len(cfg.Sources) == 0 {
		d.errorf(root, "no sources defined")
	}
	if len(cfg.Targets) == 0 {
		d.errorf(root, "no targets defined")
	}
	for _, s := range cfg.Sources {
		at := &yaml.Node{Line: s.Line}
		if s.Type != "csv" && s.Type != "jsonl" {
			d.errorf(at, "source %s: type must be csv or jsonl, got %q", s.Name, s.Type)
		}
		if s.Path == "" {
			d.errorf(at, "source %s: path is required", s.Name)
		}
		if len(s.Columns) == 0 {
			d.errorf(at, "source %s: schema is required", s.Name)
		}
		found := false
		for _, c := range s.Columns {
			if c.Name == s.Key {
				found = true
				if c.Type != "string" {
					d.errorf(&yaml.Node{Line: c.Line}, "source %s: key column %s must be a string", s.Name, c.Name)
				}
			}
			if strings.HasPrefix(c.Name, "_") {
				d.errorf(&yaml.Node{Line: c.Line}, "source %s: column names starting with _ are reserved", s.Name)
			}
		}
		switch s.Read {
		case "full":
		case "delta":
			if s.Delta == "" {
				d.errorf(at, "source %s: read: delta needs a delta file path", s.Name)
			}
		default:
			d.errorf(at, "source %s: read must be full or delta, got %q", s.Name, s.Read)
		}
		switch {
		case s.Key == "":
			d.errorf(at, "source %s: key is required (the column that anchors each identity)", s.Name)
		case !found:
			d.errorf(at, "source %s: key %q is not a schema column", s.Name, s.Key)
		}
	}
	for _, t := range cfg.Targets {
		at := &yaml.Node{Line: t.Line}
		switch t.Type {
		case "sqlite", "jsonl":
			if t.Path == "" {
				d.errorf(at, "target %s: path is required", t.Name)
			}
		case "scim":
			if !strings.HasPrefix(t.URL, "https://") {
				d.errorf(at, "target %s: url is required and must start with https://", t.Name)
			}
			if (t.Auth.Bearer == "") == (t.Auth.OAuth2 == nil) {
				d.errorf(at, "target %s: auth needs exactly one of bearer and oauth2", t.Name)
			}
		default:
			d.errorf(at, "target %s: type must be sqlite, jsonl or scim, got %q", t.Name, t.Type)
		}
		if cfg.SourceByName(t.Source) == nil {
			d.errorf(at, "target %s: source %q is not defined", t.Name, t.Source)
		}
		switch t.Deprovision {
		case "disable", "delete", "ignore":
		default:
			d.errorf(at, "target %s: deprovision must be disable, delete or ignore, got %q", t.Name, t.Deprovision)
		}
		if len(t.Attributes) == 0 {
			d.errorf(at, "target %s: attributes are required", t.Name)
		}
		if t.Match != "" && !t.hasAttribute(t.Match) {
			d.errorf(at, "target %s: match %q is not one of its attributes", t.Name, t.Match)
		}
		if t.DeleteAfter > 0 && t.Deprovision != "disable" {
			d.errorf(at, "target %s: deleteAfter needs deprovision: disable", t.Name)
		}
		if t.Concurrency == 0 {
			t.Concurrency = 1
			if t.Type == "scim" {
				t.Concurrency = 8
			}
		}
		if t.Concurrency < 1 || t.Concurrency > 256 {
			d.errorf(at, "target %s: concurrency must be 1 to 256", t.Name)
		}
		if t.OpsPerRun < 0 {
			d.errorf(at, "target %s: opsPerRun must be 0 (no bound) or more", t.Name)
		}
		if t.MembersPerRequest < 1 {
			d.errorf(at, "target %s: membersPerRequest must be at least 1", t.Name)
		}
		for _, a := range append(t.Attributes, t.References...) {
			if strings.HasPrefix(a.Name, "_") {
				d.errorf(at, "target %s: attribute names starting with _ are reserved (%s)", t.Name, a.Name)
			}
		}
		for _, r := range t.References {
			if t.hasAttribute(r.Name) {
				d.errorf(at, "target %s: %s is both an attribute and a reference", t.Name, r.Name)
			}
		}
		if t.Safety.MaxDeletes < 0 || t.Safety.MaxDeletePercent < 0 || t.Safety.MaxDeletePercent > 100 {
			d.errorf(at, "target %s: safety limits must be >= 0 (percent <= 100)", t.Name)
		}
	}
}

func (t *Target) hasAttribute(name string) bool {
	for _, a := range t.Attributes {
		if a.Name == name {
			return true
		}
	}
	return false
}
