package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// discard points a config's jsonl targets at /dev/null: a state of 10M
// identities needs tens of GB already, and the targets' own files would
// add 12 GB that no scenario reads.
func discard(cfg string) string {
	for _, n := range []string{"directory", "app", "hris"} {
		cfg = strings.Replace(cfg, "path: "+n+".jsonl", "path: /dev/null", 1)
	}
	return cfg
}

// buildInSlices gives the steady project a real state, written by idsync
// itself, for a population whose initial plan does not fit in memory: it
// applies s0 a slice of size rows at a time, the first slice as the full
// read and each later one as a delta of hires. Each apply is measured,
// for the record.
func buildInSlices(steady, s0 string, size int, idsync string, add func(result)) error {
	// Absolute: each apply runs in steady, and a relative -work (the
	// Makefile's) named the slices from there twice over.
	slices, err := split(s0, abs(filepath.Join(steady, "slices")), size)
	if err != nil {
		return err
	}
	for i, s := range slices {
		env := []string{"HR=" + slices[0]}
		if i > 0 {
			env = append(env, "DELTA="+s)
		}
		r, _, err := measure(fmt.Sprintf("setup: apply slice %d of %d (%d rows) to 3 targets", i+1, len(slices), size),
			steady, env, "", idsync, "-c", "idsync.yaml", "apply", "-q")
		if err != nil {
			return err
		}
		add(r)
	}
	if err := os.RemoveAll(filepath.Join(steady, "slices")); err != nil {
		return err
	}
	return os.WriteFile(builtMark(steady), []byte(strconv.Itoa(size)), 0o644)
}

// builtMark is the file that says buildInSlices finished, and with what
// slice size: a run stopped halfway leaves a state that is not s0's.
func builtMark(steady string) string { return filepath.Join(steady, "built-in-slices") }

// builtInSlices reports whether buildInSlices finished building steady's
// state in slices of size rows.
func builtInSlices(steady string, size int) bool {
	b, err := os.ReadFile(builtMark(steady))
	return err == nil && string(b) == strconv.Itoa(size)
}

// split writes the file's rows in files of size rows each, every one with
// the header, and returns their paths.
func split(path, dir string, size int) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	in, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer in.Close() //nolint:errcheck // read-only
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	if !sc.Scan() {
		return nil, fmt.Errorf("%s: no header", path)
	}
	header := sc.Text()
	var paths []string
	var w *bufio.Writer
	var f *os.File
	closeSlice := func() error {
		if f == nil {
			return nil
		}
		if err := w.Flush(); err != nil {
			return err
		}
		return f.Close()
	}
	// Rows are single lines: the generator writes no line breaks in fields.
	for n := 0; sc.Scan(); n++ {
		if n%size == 0 {
			if err := closeSlice(); err != nil {
				return nil, err
			}
			p := filepath.Join(dir, fmt.Sprintf("s0-%03d.csv", len(paths)))
			if f, err = os.Create(p); err != nil {
				return nil, err
			}
			w = bufio.NewWriterSize(f, 1<<20)
			paths = append(paths, p)
			fmt.Fprintln(w, header)
		}
		fmt.Fprintln(w, sc.Text())
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return paths, closeSlice()
}
