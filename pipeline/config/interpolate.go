package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Env looks up an environment variable; os.LookupEnv in production.
type Env func(name string) (string, bool)

// Interpolate expands ${env:NAME}, ${env:NAME:-default} and ${file:path}
// in s; "$$" is a literal "$". File paths are relative to dir. Errors name
// the reference but never a value, since values are often secrets.
func Interpolate(s, dir string, env Env) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '$')
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		b.WriteString(s[:i])
		s = s[i:]
		switch {
		case strings.HasPrefix(s, "$$"):
			b.WriteByte('$')
			s = s[2:]
			continue
		case !strings.HasPrefix(s, "${"):
			b.WriteByte('$')
			s = s[1:]
			continue
		}
		end := strings.IndexByte(s, '}')
		if end < 0 {
			return "", fmt.Errorf("unterminated reference %q", s)
		}
		v, err := resolve(s[2:end], dir, env)
		if err != nil {
			return "", err
		}
		b.WriteString(v)
		s = s[end+1:]
	}
}

func resolve(ref, dir string, env Env) (string, error) {
	kind, arg, ok := strings.Cut(ref, ":")
	if !ok {
		return "", fmt.Errorf("reference ${%s} needs a kind: ${env:NAME} or ${file:path}", ref)
	}
	switch kind {
	case "env":
		name, def, hasDef := strings.Cut(arg, ":-")
		if name == "" {
			return "", fmt.Errorf("reference ${%s} names no variable", ref)
		}
		if v, ok := env(name); ok && v != "" {
			return v, nil
		}
		if hasDef {
			return def, nil
		}
		return "", fmt.Errorf("${env:%s}: environment variable %s is not set", name, name)
	case "file":
		p := arg
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			// The path is safe to show; the content never is.
			return "", fmt.Errorf("${file:%s}: cannot read %s: %w", arg, p, pathErr(err))
		}
		return strings.TrimRight(string(data), "\r\n"), nil
	}
	return "", fmt.Errorf("reference ${%s}: unknown kind %q (want env or file)", ref, kind)
}

// pathErr strips the path os already repeats, leaving "no such file or
// directory" and the like.
func pathErr(err error) error {
	if pe := (*os.PathError)(nil); errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
