package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const minimal = `state: st
sources:
  hr:
    type: csv
    path: data/hr.csv
    key: id
    schema: {id: string, n: int}
targets:
  dir:
    type: sqlite
    path: /abs/dir.db
    source: hr
    scope: |
      user.n > 1 &&
        user.id != ""
    attributes:
      a: 'user.id'
      b: {expr: "user.id", ignoreCase: true}
`

func TestParseResolvesPathsAndPositions(t *testing.T) {
	cfg, err := Parse("/etc/idsync/cfg.yaml", []byte(minimal), Options{Env: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	got := struct {
		State, Source, Target string
		Scope, A, B           Rule
		IgnoreB               bool
		MaxDeletes            int
		Deprovision           string
	}{cfg.State, cfg.Sources[0].Path, cfg.Targets[0].Path, cfg.Targets[0].Scope,
		cfg.Targets[0].Attributes[0].Rule, cfg.Targets[0].Attributes[1].Rule,
		cfg.Targets[0].Attributes[1].IgnoreCase, cfg.Targets[0].Safety.MaxDeletes, cfg.Targets[0].Deprovision}
	want := got
	want.State, want.Source, want.Target = "/etc/idsync/st", "/etc/idsync/data/hr.csv", "/abs/dir.db"
	want.Scope = Rule{Text: "user.n > 1 &&\n  user.id != \"\"\n", Line: 14, Column: 7}
	want.A = Rule{Text: "user.id", Line: 17, Column: 11}
	want.B = Rule{Text: "user.id", Line: 18, Column: 18}
	want.IgnoreB, want.MaxDeletes, want.Deprovision = true, DefaultMaxDeletes, "disable"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("parsed config (-want +got):\n%s", diff)
	}
	if l, c := cfg.Targets[0].Scope.Position(2, 3); l != 15 || c != 3 {
		t.Errorf("scope position of rule line 2 col 3 = %d:%d, want 15:3", l, c)
	}
}

func TestParseErrorsNameLines(t *testing.T) {
	tests := map[string]struct {
		yaml string
		want []string
	}{
		"unknown and duplicate keys": {
			yaml: "sources:\n  hr: {type: csv, path: a, key: id, schema: {id: string}, bogus: 1}\ntargets:\n  t: {type: jsonl, path: o, source: hr, attributes: {a: user.id}, source: hr}\n",
			want: []string{`cfg.yaml:2: unknown key "bogus" in source hr (known: delimiter, delta, every, fullEvery, key, maxFieldBytes, path, read, schema, type)`,
				`cfg.yaml:4: duplicate key "source" in target t`},
		},
		"wrong types and values": {
			yaml: "sources:\n  hr: {type: xml, path: a, key: n, schema: {n: int}}\ntargets:\n  t: {type: jsonl, path: o, source: nope, deprovision: shred, attributes: {a: user.id}, match: zz, safety: {maxDeletePercent: 200}}\n",
			want: []string{
				`cfg.yaml:2: source hr: type must be csv or jsonl, got "xml"`,
				`cfg.yaml:2: source hr: key column n must be a string`,
				`cfg.yaml:4: target t: source "nope" is not defined`,
				`cfg.yaml:4: target t: deprovision must be disable, delete or ignore, got "shred"`,
				`cfg.yaml:4: target t: match "zz" is not one of its attributes`,
				`cfg.yaml:4: target t: safety limits must be >= 0 (percent <= 100)`,
			},
		},
		"not yaml": {
			yaml: "sources: [\n",
			want: []string{"cfg.yaml: line 1: did not find expected node content"},
		},
		"empty": {
			yaml: "",
			want: []string{"cfg.yaml: config is empty"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := Parse("cfg.yaml", []byte(tc.yaml), Options{Env: noEnv})
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("%s: err = %v, want Errors", name, err)
			}
			var got []string
			for _, e := range errs {
				got = append(got, e.Error())
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s: errors (-want +got):\n%s", name, diff)
			}
		})
	}
}

func TestInterpolate(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(k string) (string, bool) {
		v, ok := map[string]string{"HOST": "example.org", "EMPTY": ""}[k]
		return v, ok
	}
	tests := map[string]struct {
		in, want, err string
	}{
		"plain":              {in: "abc", want: "abc"},
		"env":                {in: "https://${env:HOST}/x", want: "https://example.org/x"},
		"default used":       {in: "${env:NOPE:-fallback}", want: "fallback"},
		"empty uses default": {in: "${env:EMPTY:-d}", want: "d"},
		"default unused":     {in: "${env:HOST:-fallback}", want: "example.org"},
		"file, newline cut":  {in: "Bearer ${file:token}", want: "Bearer s3cret"},
		"dollar escape":      {in: "a$$b$c", want: "a$b$c"},
		"missing env":        {in: "${env:NOPE}", err: "${env:NOPE}: environment variable NOPE is not set"},
		"missing file":       {in: "${file:nope}", err: "${file:nope}: cannot read " + filepath.Join(dir, "nope") + ": no such file or directory"},
		"unknown kind":       {in: "${vault:x}", err: `reference ${vault:x}: unknown kind "vault" (want env or file)`},
		"unterminated":       {in: "${env:X", err: `unterminated reference "${env:X"`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := Interpolate(tc.in, dir, env)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("%s: err = %v, want %q", name, err, tc.err)
				}
				if strings.Contains(err.Error(), "s3cret") {
					t.Errorf("%s: error leaks a secret value", name)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("%s: got %q, %v; want %q", name, got, err, tc.want)
			}
		})
	}
}

func noEnv(string) (string, bool) { return "", false }

func TestLogRetention(t *testing.T) {
	cfg, err := Parse("cfg.yaml", []byte(minimal), Options{Env: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.LogRetention != DefaultLogRetention {
		t.Errorf("default retention = %v, want %v", cfg.LogRetention, DefaultLogRetention)
	}
	cfg, err = Parse("cfg.yaml", []byte("logRetention: 400d\n"+minimal), Options{Env: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.LogRetention != 400*24*time.Hour {
		t.Errorf("retention = %v, want 400 days", cfg.LogRetention)
	}
	_, err = Parse("cfg.yaml", []byte("logRetention: forever\n"+minimal), Options{Env: noEnv})
	if err == nil || !strings.Contains(err.Error(), `cfg.yaml:1: want a duration like 30s, 15m or 7d, got "forever"`) {
		t.Errorf("bad retention: err = %v", err)
	}
}

// TestMembersPerRequestDefaultsByType: unset, membersPerRequest follows
// the target's type (a SCIM PATCH stays small, a SQLite transaction need
// not); set, it is what was given, and 0 is refused.
func TestMembersPerRequestDefaultsByType(t *testing.T) {
	const scim = "    url: https://scim.example.com/v2\n    auth: {bearer: token}\n"
	for _, c := range []struct {
		typ, extra string
		want       int // 0: refused
	}{
		{"sqlite", "", 1000},
		{"jsonl", "", 1000},
		{"scim", scim, 100},
		{"sqlite", "    membersPerRequest: 7\n", 7},
		{"scim", scim + "    membersPerRequest: 250\n", 250},
		{"sqlite", "    membersPerRequest: 0\n", 0},
	} {
		text := strings.Replace(minimal, "    type: sqlite\n", "    type: "+c.typ+"\n"+c.extra, 1)
		cfg, err := Parse("cfg.yaml", []byte(text), Options{Env: noEnv})
		if c.want == 0 {
			if err == nil || !strings.Contains(err.Error(), "membersPerRequest must be at least 1") {
				t.Errorf("%s %q: err = %v, want membersPerRequest refused", c.typ, c.extra, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s %q: %v", c.typ, c.extra, err)
		}
		if got := cfg.Targets[0].MembersPerRequest; got != c.want {
			t.Errorf("%s %q: membersPerRequest %d, want %d", c.typ, c.extra, got, c.want)
		}
	}
}
