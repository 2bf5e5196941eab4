package config

import (
	"os"
	"strings"
	"testing"
)

// FuzzParse: any bytes give a config or a list of errors, each naming the
// file; a secret from the environment never appears in an error.
func FuzzParse(f *testing.F) {
	f.Add(minimal)
	for _, name := range []string{"../../testdata/quickstart/idsync.yaml", "../../testdata/lifecycle/idsync.yaml"} {
		if data, err := os.ReadFile(name); err == nil {
			f.Add(string(data))
		}
	}
	f.Add("sources: {hr: {type: csv, path: ${env:SECRET}, key: id, schema: {id: string}}}\ntargets: [1")
	f.Add("state: ${file:/nonexistent}\n")
	env := func(k string) (string, bool) {
		if k == "SECRET" {
			return "s3cret-value", true
		}
		return "", false
	}
	f.Fuzz(func(t *testing.T, content string) {
		_, err := Parse("cfg.yaml", []byte(content), Options{Env: env})
		if err == nil {
			return
		}
		if strings.Contains(err.Error(), "s3cret-value") {
			t.Errorf("an error shows a secret: %v", err)
		}
		for _, line := range strings.Split(err.Error(), "\n") {
			if !strings.HasPrefix(line, "cfg.yaml") && line != "" {
				t.Errorf("error line without the file name: %q", line)
			}
		}
	})
}

// FuzzInterpolate: never panics; a resolved string never keeps a ${.
func FuzzInterpolate(f *testing.F) {
	for _, s := range []string{"a${env:X}b", "$$", "${env:X:-d}", "${file:x}", "${", "$${env:X}", "${env:}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, err := Interpolate(s, t.TempDir(), func(string) (string, bool) { return "v", true })
		if err == nil && strings.Contains(out, "${") && !strings.Contains(s, "$${") {
			t.Errorf("Interpolate(%q) = %q: a reference survived", s, out)
		}
	})
}
