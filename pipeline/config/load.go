package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/idsync/idsync/connectors/batch"
)

// Options tune Load. Zero values take the stated defaults.
type Options struct {
	// Env looks up environment variables. Defaults to os.LookupEnv.
	Env Env
	// State, when set, overrides the file's state directory (--state).
	State string
}

// Load reads, interpolates and validates the config file. On failure the
// error is an Errors listing every problem with file:line, and the config
// returned beside it, if any, is partial: fit only for finding more
// problems (as validate does with the rules), never for running.
func Load(path string, opts Options) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, data, opts)
}

// Parse is Load on bytes already read; path names the file in messages and
// anchors relative paths.
func Parse(path string, data []byte, opts Options) (*Config, error) {
	if opts.Env == nil {
		opts.Env = os.LookupEnv
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	d := &decoder{file: path, dir: dir, env: opts.Env, lines: strings.Split(string(data), "\n")}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, Errors{&Error{File: path, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	cfg := &Config{File: path, Dir: dir, State: ".idsync", LogRetention: DefaultLogRetention, Daemon: Daemon{Listen: "127.0.0.1:9464", ShutdownTimeout: 30 * time.Second}}
	if len(root.Content) == 0 {
		return nil, Errors{&Error{File: path, Msg: "config is empty"}}
	}
	d.fields(root.Content[0], "config", map[string]func(*yaml.Node){
		"state":        func(n *yaml.Node) { d.str(n, &cfg.State) },
		"randomSalt":   func(n *yaml.Node) { d.str(n, &cfg.RandomSalt) },
		"logRetention": func(n *yaml.Node) { d.duration(n, &cfg.LogRetention) },
		"daemon": func(n *yaml.Node) {
			d.fields(n, "daemon", map[string]func(*yaml.Node){
				"listen":          func(n *yaml.Node) { d.str(n, &cfg.Daemon.Listen) },
				"token":           func(n *yaml.Node) { d.str(n, &cfg.Daemon.Token) },
				"shutdownTimeout": func(n *yaml.Node) { d.duration(n, &cfg.Daemon.ShutdownTimeout) },
			})
		},
		"sources": func(n *yaml.Node) {
			d.entries(n, "source", func(k, v *yaml.Node) { cfg.Sources = append(cfg.Sources, d.source(k, v)) })
		},
		"targets": func(n *yaml.Node) {
			d.entries(n, "target", func(k, v *yaml.Node) { cfg.Targets = append(cfg.Targets, d.target(k, v)) })
		},
	})
	if opts.State != "" {
		cfg.State = opts.State
	} else {
		cfg.State = d.path(cfg.State)
	}
	d.validate(cfg, root.Content[0])
	if len(d.errs) > 0 {
		return cfg, Errors(d.errs)
	}
	return cfg, nil
}

// path resolves p against the config directory.
func (d *decoder) path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(d.dir, p)
}

func (d *decoder) source(k, n *yaml.Node) *Source {
	s := &Source{Name: k.Value, Line: k.Line, Read: "full", Every: 15 * time.Minute}
	d.fields(n, "source "+s.Name, map[string]func(*yaml.Node){
		"type": func(n *yaml.Node) { d.str(n, &s.Type) },
		"path": func(n *yaml.Node) { d.str(n, &s.Path); s.Path = d.path(s.Path) },
		"key":  func(n *yaml.Node) { d.str(n, &s.Key) },
		"delimiter": func(n *yaml.Node) {
			var v string
			d.str(n, &v)
			if utf8.RuneCountInString(v) != 1 {
				d.errorf(n, "delimiter must be one character")
				return
			}
			s.Delimiter, _ = utf8.DecodeRuneInString(v)
		},
		"maxFieldBytes": func(n *yaml.Node) { d.integer(n, &s.MaxFieldBytes) },
		"read":          func(n *yaml.Node) { d.str(n, &s.Read) },
		"every":         func(n *yaml.Node) { d.duration(n, &s.Every) },
		"delta":         func(n *yaml.Node) { d.str(n, &s.Delta); s.Delta = d.path(s.Delta) },
		"fullEvery": func(n *yaml.Node) {
			var v string
			d.str(n, &v)
			if runs, err := strconv.Atoi(v); err == nil && runs > 0 {
				s.FullEveryRuns = runs
				return
			}
			dur, err := ParseDuration(v)
			if err != nil || dur <= 0 {
				d.errorf(n, "fullEvery: want a number of runs or a duration like 24h or 7d, got %q", v)
				return
			}
			s.FullEvery = dur
		},
		"schema": func(n *yaml.Node) {
			d.entries(n, "schema column", func(k, v *yaml.Node) {
				c := Column{Name: k.Value, Line: k.Line}
				d.str(v, &c.Type)
				if _, err := batch.ParseType(c.Type); err != nil && c.Type != "" {
					d.errorf(v, "source %s column %s: %v", s.Name, c.Name, err)
				}
				s.Columns = append(s.Columns, c)
			})
		},
	})
	return s
}

func (d *decoder) target(k, n *yaml.Node) *Target {
	t := &Target{Name: k.Value, Line: k.Line, Deprovision: "disable",
		OpsPerRun: DefaultOpsPerRun, Safety: Safety{MaxDeletes: DefaultMaxDeletes}}
	members := false // membersPerRequest given: its default depends on the type
	d.fields(n, "target "+t.Name, map[string]func(*yaml.Node){
		"type":        func(n *yaml.Node) { d.str(n, &t.Type) },
		"path":        func(n *yaml.Node) { d.str(n, &t.Path); t.Path = d.path(t.Path) },
		"table":       func(n *yaml.Node) { d.str(n, &t.Table) },
		"source":      func(n *yaml.Node) { d.str(n, &t.Source) },
		"scope":       func(n *yaml.Node) { d.rule(n, &t.Scope) },
		"match":       func(n *yaml.Node) { d.str(n, &t.Match) },
		"deprovision": func(n *yaml.Node) { d.str(n, &t.Deprovision) },
		"deleteAfter": func(n *yaml.Node) {
			var v string
			d.str(n, &v)
			dur, err := ParseDuration(v)
			if err != nil || dur <= 0 {
				d.errorf(n, "deleteAfter: want a duration like 30d or 720h, got %q", v)
			}
			t.DeleteAfter = dur
		},
		"enabled":           func(n *yaml.Node) { d.rule(n, &t.Enabled) },
		"groups":            func(n *yaml.Node) { d.rule(n, &t.Groups) },
		"membersPerRequest": func(n *yaml.Node) { d.integer(n, &t.MembersPerRequest); members = true },
		"concurrency":       func(n *yaml.Node) { d.integer(n, &t.Concurrency) },
		"opsPerRun":         func(n *yaml.Node) { d.integer(n, &t.OpsPerRun) },
		"url":               func(n *yaml.Node) { d.str(n, &t.URL) },
		"rateLimit":         func(n *yaml.Node) { d.float(n, &t.RateLimit) },
		"bulk":              func(n *yaml.Node) { d.boolean(n, &t.Bulk) },
		"timeout": func(n *yaml.Node) {
			var v string
			d.str(n, &v)
			if dur, err := ParseDuration(v); err != nil || dur <= 0 {
				d.errorf(n, "timeout: want a duration like 30s, got %q", v)
			} else {
				t.Timeout = dur
			}
		},
		"tls": func(n *yaml.Node) {
			d.fields(n, "tls", map[string]func(*yaml.Node){
				"ca": func(n *yaml.Node) { d.str(n, &t.TLS.CA); t.TLS.CA = d.path(t.TLS.CA) },
				"insecureSkipVerify": func(n *yaml.Node) {
					d.errorf(n, "tls.insecureSkipVerify is not supported: idsync always verifies certificates; give the server's CA with tls.ca")
				},
			})
		},
		"auth": func(n *yaml.Node) {
			d.fields(n, "auth", map[string]func(*yaml.Node){
				"bearer": func(n *yaml.Node) { d.str(n, &t.Auth.Bearer) },
				"oauth2": func(n *yaml.Node) {
					o := &OAuth2{}
					d.fields(n, "auth.oauth2", map[string]func(*yaml.Node){
						"tokenURL":     func(n *yaml.Node) { d.str(n, &o.TokenURL) },
						"clientID":     func(n *yaml.Node) { d.str(n, &o.ClientID) },
						"clientSecret": func(n *yaml.Node) { d.str(n, &o.ClientSecret) },
						"scopes": func(n *yaml.Node) {
							for _, c := range n.Content {
								var s string
								d.str(c, &s)
								o.Scopes = append(o.Scopes, s)
							}
						},
					})
					t.Auth.OAuth2 = o
				},
			})
		},
		"deleteEmptyGroups": func(n *yaml.Node) { d.boolean(n, &t.DeleteEmptyGroups) },
		"references": func(n *yaml.Node) {
			d.entries(n, "reference", func(k, v *yaml.Node) {
				a := &Attribute{Name: k.Value}
				d.rule(v, &a.Rule)
				t.References = append(t.References, a)
			})
		},
		"attributes": func(n *yaml.Node) {
			d.entries(n, "attribute", func(k, v *yaml.Node) { t.Attributes = append(t.Attributes, d.attribute(t, k, v)) })
		},
		"safety": func(n *yaml.Node) {
			d.fields(n, "safety", map[string]func(*yaml.Node){
				"maxDeletes":       func(n *yaml.Node) { d.integer(n, &t.Safety.MaxDeletes) },
				"maxDeletePercent": func(n *yaml.Node) { d.float(n, &t.Safety.MaxDeletePercent) },
			})
		},
	})
	if !members {
		t.MembersPerRequest = DefaultMembersPerRequest(t.Type)
	}
	return t
}

// attribute accepts the short form (name: expr) or a mapping with options.
func (d *decoder) attribute(t *Target, k, n *yaml.Node) *Attribute {
	a := &Attribute{Name: k.Value}
	if n.Kind == yaml.ScalarNode {
		d.rule(n, &a.Rule)
		return a
	}
	d.fields(n, "attribute "+t.Name+"."+a.Name, map[string]func(*yaml.Node){
		"expr":        func(n *yaml.Node) { d.rule(n, &a.Rule) },
		"ignoreCase":  func(n *yaml.Node) { d.boolean(n, &a.IgnoreCase) },
		"clearOnNull": func(n *yaml.Node) { d.boolean(n, &a.ClearOnNull) },
		"createOnly":  func(n *yaml.Node) { d.boolean(n, &a.CreateOnly) },
		"sensitive":   func(n *yaml.Node) { d.boolean(n, &a.Sensitive) },
		"default":     func(n *yaml.Node) { a.Default = d.literal(n) },
	})
	if a.Rule.Text == "" {
		d.errorf(k, "attribute %s.%s needs expr", t.Name, a.Name)
	}
	return a
}
