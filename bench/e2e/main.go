package main

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/idsync/idsync/bench/population"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
}

// result is one measured scenario.
type result struct {
	Scenario string  `json:"scenario"`
	Wall     float64 `json:"wallSeconds"`
	CPU      float64 `json:"cpuSeconds"`
	RSSMB    float64 `json:"peakRssMB"`
	// AnonMB and FileMB split the peak as memoryPeak does, sampled.
	AnonMB  float64 `json:"peakAnonMB"`
	FileMB  float64 `json:"peakFileMB"`
	VsFloor float64 `json:"ratioToFloor,omitempty"`
	// FloorBeside and VsFloorBeside are the floor timed just before each
	// run of the scenario, and the median of each run's ratio to its own
	// floor (see beside).
	FloorBeside   float64 `json:"floorBesideSeconds,omitempty"`
	VsFloorBeside float64 `json:"ratioToFloorBeside,omitempty"`
	VsDuckDB      float64 `json:"ratioToDuckDB,omitempty"`
	Note          string  `json:"note,omitempty"`
}

func run() error {
	n := flag.Int("n", 1000000, "identities")
	pct := flag.Float64("changes", 1, "percent of identities changed between the two snapshots")
	work := flag.String("work", "bench/data", "scratch directory (large files)")
	out := flag.String("out", "bench/results", "where the JSON results go")
	skipApply := flag.Bool("skip-apply", false, "skip the 1M-create apply scenarios")
	runs := flag.Int("runs", 3, "runs of each read-only scenario (plans, baselines); the median is reported")
	deltaOnly := flag.Bool("delta-only", false, "only the delta plan, against a state loaded directly (for sizes whose initial plan does not fit in memory)")
	waveOnly := flag.Bool("wave-only", false, "only the initial plan's first wave at the default opsPerRun (bounded memory at any size)")
	reuse := flag.Bool("reuse-state", false, "with -slices: measure on the state an earlier run finished building in -work, instead of building it again (about 45 minutes at 10M)")
	slice := flag.Int("slices", 0, "build the steady state by applying s0 in slices of this many rows, and measure only the steady and delta plans (for sizes whose initial plan does not fit in memory)")
	flag.Parse()
	commit = measured()
	dir := filepath.Join(*work, fmt.Sprint(*n))
	bin := filepath.Join(*work, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return err
	}
	for _, b := range [][]string{
		{"go", "build", "-o", filepath.Join(bin, "idsync"), "./cmd/idsync"},
		{"go", "build", "-o", filepath.Join(bin, "floor"), "./bench/floor"},
	} {
		if out, err := exec.Command(b[0], b[1:]...).CombinedOutput(); err != nil {
			return fmt.Errorf("%v: %w\n%s", b, err, out)
		}
	}
	duck := exec.Command("go", "build", "-o", abs(filepath.Join(bin, "duckdb")), ".")
	duck.Dir = "bench/duckdb"
	if out, err := duck.CombinedOutput(); err != nil {
		return fmt.Errorf("building the DuckDB baseline: %w\n%s", err, out)
	}
	if err := generate(dir, *n, *pct); err != nil {
		return err
	}
	s0, s1, delta := abs(filepath.Join(dir, "s0.csv")), abs(filepath.Join(dir, "s1.csv")), abs(filepath.Join(dir, "delta.csv"))
	idsync, floor, duckdb := abs(filepath.Join(bin, "idsync")), abs(filepath.Join(bin, "floor")), abs(filepath.Join(bin, "duckdb"))

	var results []result
	add := func(r result) {
		results = append(results, r)
		fmt.Fprintf(os.Stderr, "%-40s %8.2fs wall %8.2fs cpu %8.0f MB (%.0f anonymous)\n", r.Scenario, r.Wall, r.CPU, r.RSSMB, r.AnonMB)
	}
	// median runs a read-only scenario several times and keeps the run
	// with the median wall time: this machine is shared and noisy.
	median := func(name, dir string, env []string, stdoutFile string, argv ...string) (result, []byte, error) {
		type run struct {
			r   result
			out []byte
		}
		var all []run
		for range max(1, *runs) {
			r, out, err := measure(name, dir, env, stdoutFile, argv...)
			if err != nil {
				return r, out, err
			}
			all = append(all, run{r, out})
		}
		slices.SortFunc(all, func(a, b run) int { return cmp.Compare(a.r.Wall, b.r.Wall) })
		m := all[len(all)/2]
		return m.r, m.out, nil
	}
	// beside runs a plan scenario as median does, with the floor timed on
	// its input just before each run. Between runs of this bench the
	// floor moved from 0.19 to 0.29 s as the machine's other load came
	// and went, and a plan's ratio to a floor timed minutes before moved
	// with it, from 4.4x to 3.0x for the same plan time. The median of
	// each run's ratio to its own floor moves less.
	beside := func(input, name, dir string, env []string, stdoutFile string, argv ...string) (result, error) {
		type run struct {
			r     result
			floor float64
		}
		var all []run
		for range max(1, *runs) {
			f, _, err := measure("floor beside "+name, "", nil, "", floor, input)
			if err != nil {
				return result{}, err
			}
			r, _, err := measure(name, dir, env, stdoutFile, argv...)
			if err != nil {
				return result{}, err
			}
			all = append(all, run{r, f.Wall})
		}
		ratios, floors := make([]float64, len(all)), make([]float64, len(all))
		for i, r := range all {
			ratios[i], floors[i] = r.r.Wall/r.floor, r.floor
		}
		slices.SortFunc(all, func(a, b run) int { return cmp.Compare(a.r.Wall, b.r.Wall) })
		m := all[len(all)/2].r
		slices.Sort(ratios)
		slices.Sort(floors)
		m.VsFloorBeside, m.FloorBeside = ratios[len(ratios)/2], floors[len(floors)/2]
		return m, nil
	}
	floorS1, _, err := median("floor: parse s1 (encoding/csv)", "", nil, "", floor, s1)
	if err != nil {
		return err
	}
	add(floorS1)
	host = probeHost(s1)
	fmt.Fprintln(os.Stderr, host)
	// deltaPlan measures a delta plan of the changes in the steady project
	// and returns its result and plan file.
	deltaPlan := func(name, steady string) (result, string, error) {
		planFile := filepath.Join(steady, "delta.jsonl")
		r, _, err := median(name, steady, []string{"HR=" + s1, "DELTA=" + delta}, planFile, idsync, "-c", "idsync.yaml", "plan", "--format", "jsonl")
		r.VsFloor = r.Wall / floorS1.Wall
		return r, planFile, err
	}
	if *deltaOnly {
		steady := project(dir, "steady", config("jsonl", "directory", "app", "hris"))
		if err := loadState(steady, *n, add); err != nil {
			return err
		}
		r, _, err := deltaPlan(fmt.Sprintf("delta plan (changes only; state of %d loaded entries per target)", *n), steady)
		if err != nil {
			return err
		}
		add(r)
		return report(results, *n, *pct, filepath.Join(*out, fmt.Sprintf("e2e-%d.json", *n)))
	}

	if *waveOnly {
		first, err := firstWave(dir, s0, idsync, median)
		if err != nil {
			return err
		}
		first.VsFloor = first.Wall / floorS1.Wall
		add(first)
		return report(results, *n, *pct, filepath.Join(*out, fmt.Sprintf("e2e-%d-wave.json", *n)))
	}
	if *slice > 0 {
		cfg := discard(config("jsonl", "directory", "app", "hris"))
		steady := filepath.Join(dir, "steady")
		if !*reuse || !builtInSlices(steady, *slice) {
			steady = project(dir, "steady", cfg)
			if err := buildInSlices(steady, s0, *slice, idsync, add); err != nil {
				return err
			}
		} else if err := os.WriteFile(filepath.Join(steady, "idsync.yaml"), []byte(cfg), 0o644); err != nil {
			return err // this build's config, which the state was built with unless the reference policy changed
		}
		// The first full plan of a state makes its index cache files (see
		// snapshots/indexcache.go); the ones after it read them. A reused
		// state may have them from an earlier run, so they go first.
		if err := os.RemoveAll(filepath.Join(steady, "state", "index-cache")); err != nil {
			return err
		}
		first, _, err := measure("steady full plan, first (makes the index cache)", steady, []string{"HR=" + s1},
			filepath.Join(steady, "plan.jsonl"), idsync, "-c", "idsync.yaml", "plan", "--format", "jsonl", "--full")
		if err != nil {
			return err
		}
		first.VsFloor = first.Wall / floorS1.Wall
		add(first)
		full, err := beside(s1, fmt.Sprintf("steady full plan (%g%% changed)", *pct), steady, []string{"HR=" + s1},
			filepath.Join(steady, "plan.jsonl"), idsync, "-c", "idsync.yaml", "plan", "--format", "jsonl", "--full")
		if err != nil {
			return err
		}
		full.VsFloor = full.Wall / floorS1.Wall
		add(full)
		r, _, err := deltaPlan("delta plan (changes only)", steady)
		if err != nil {
			return err
		}
		add(r)
		return report(results, *n, *pct, filepath.Join(*out, fmt.Sprintf("e2e-%d-slices.json", *n)))
	}

	// Initial plan, 3 targets, empty state; and DuckDB doing the same.
	initDir := project(dir, "initial", config("jsonl", "directory", "app", "hris"))
	// againstDuckDB measures an idsync plan and DuckDB's diff of the same
	// input, one after the other, and records both with their ratios and
	// whether they agree on the changes. It returns DuckDB's changes.
	againstDuckDB := func(input, name, dir string, planArgs []string, duckName string, duckArgs ...string) ([]byte, error) {
		planFile := filepath.Join(dir, "plan.jsonl")
		r, err := beside(input, name, dir, []string{"HR=" + input}, planFile, append([]string{idsync, "-c", "idsync.yaml", "plan", "--format", "jsonl"}, planArgs...)...)
		if err != nil {
			return nil, err
		}
		// DuckDB writes its changes next to idsync's plan, as idsync does.
		duck, duckOut, err := median(duckName, "", nil, "", append([]string{duckdb, "-out", dir}, duckArgs...)...)
		if err != nil {
			return nil, err
		}
		r.Note = honesty(planFile, duckOut)
		r.VsFloor, r.VsDuckDB = r.Wall/floorS1.Wall, r.Wall/duck.Wall
		add(r)
		add(duck)
		return duckOut, nil
	}
	if _, err := againstDuckDB(s0, "initial plan (3 targets x 10 attrs)", initDir, nil,
		"DuckDB: initial diff", "-cur", s0); err != nil {
		return err
	}
	first, err := firstWave(dir, s0, idsync, median)
	if err != nil {
		return err
	}
	first.VsFloor = first.Wall / floorS1.Wall
	add(first)

	if !*skipApply {
		for _, kind := range []string{"jsonl", "sqlite"} {
			d := project(dir, "apply-"+kind, config(kind, "directory"))
			r, _, err := measure("initial apply to "+kind+" (1 target)", d, []string{"HR=" + s0}, "", idsync, "-c", "idsync.yaml", "apply", "-q")
			if err != nil {
				return err
			}
			r.VsFloor = r.Wall / floorS1.Wall
			add(r)
		}
	}

	// Steady state: state from applying s0 (measured, for the record), then
	// a full plan of s1 and a delta plan of the same changes.
	steady := project(dir, "steady", config("jsonl", "directory", "app", "hris"))
	setup, _, err := measure("setup: apply s0 to 3 targets", steady, []string{"HR=" + s0}, "", idsync, "-c", "idsync.yaml", "apply", "-q")
	if err != nil {
		return err
	}
	add(setup)
	// The first process to open the state after so large an apply reads
	// the newest value-log file whole (Badger checks its end), and until
	// plans opened state without compactions it also finished the apply's
	// compactions, which took it from about 1.3 s to 4 s. That run is
	// measured on its own, so the steady figures below are of the state as
	// the next day's run would find it. It also makes the index cache
	// files (snapshots/indexcache.go), which the plans after it read.
	settling, _, err := measure("steady full plan, first after the apply", steady, []string{"HR=" + s1},
		filepath.Join(steady, "plan.jsonl"), idsync, "-c", "idsync.yaml", "plan", "--format", "jsonl", "--full")
	if err != nil {
		return err
	}
	settling.VsFloor = settling.Wall / floorS1.Wall
	add(settling)
	duckSteadyOut, err := againstDuckDB(s1, fmt.Sprintf("steady full plan (%.0f%% changed)", *pct), steady, []string{"--full"},
		"DuckDB: steady diff", "-prev", s0, "-cur", s1)
	if err != nil {
		return err
	}
	dplan, planFile, err := deltaPlan("delta plan (changes only)", steady)
	if err != nil {
		return err
	}
	dplan.Note = honesty(planFile, duckSteadyOut)
	add(dplan)

	// A day later: apply s1's changes, then plan s0, which changes the
	// same share back. This plan finds state as a daily run does, just
	// after an apply, with the index cache brought up to date by it.
	// DuckDB is not run: it derives state from the CSV before, and so
	// cannot know that the users the apply disabled kept their groups
	// (idsync re-enables them without adding them back).
	cycle, _, err := measure(fmt.Sprintf("apply of the %g%% changes (s1)", *pct), steady, []string{"HR=" + s1}, "",
		idsync, "-c", "idsync.yaml", "apply", "-q", "--full")
	if err != nil {
		return err
	}
	add(cycle)
	next, err := beside(s0, fmt.Sprintf("next steady full plan, after that apply (%.0f%% changed back)", *pct), steady,
		[]string{"HR=" + s0}, filepath.Join(steady, "plan.jsonl"), idsync, "-c", "idsync.yaml", "plan", "--format", "jsonl", "--full")
	if err != nil {
		return err
	}
	next.VsFloor = next.Wall / floorS1.Wall
	add(next)

	return report(results, *n, *pct, filepath.Join(*out, fmt.Sprintf("e2e-%d.json", *n)))
}

// report prints the results as a markdown table and writes them as JSON
// to file.
func report(results []result, n int, pct float64, file string) error {
	fmt.Printf("\n%d identities, %g%% changed; %s\n%s\n\n", n, pct, time.Now().UTC().Format(time.RFC3339), host)
	fmt.Println("| scenario | wall s | CPU s | peak RSS MB | anonymous / file-backed MB | x floor | x floor beside it (floor s) | x DuckDB | same changes as DuckDB |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	for _, r := range results {
		floorBeside := ""
		if ratio(r.VsFloorBeside) != "" {
			floorBeside = fmt.Sprintf("%s (%.2f)", ratio(r.VsFloorBeside), r.FloorBeside)
		}
		fmt.Printf("| %s | %.2f | %.2f | %.0f | %.0f / %.0f | %s | %s | %s | %s |\n", r.Scenario, r.Wall, r.CPU, r.RSSMB, r.AnonMB, r.FileMB,
			ratio(r.VsFloor), floorBeside, ratio(r.VsDuckDB), r.Note)
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	data, _ := json.MarshalIndent(map[string]any{"identities": n, "changedPercent": pct, "host": host, "results": results}, "", " ")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		return err
	}
	return keepRun(file, data)
}

// measured names the commit a run builds, as of its start: its own
// results files would make the tree look changed by its end. It is
// <commit>-dirty when the tree has changes not yet committed, and empty
// outside a git checkout.
func measured() string {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return ""
	}
	rev := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
		rev += "-dirty"
	}
	return rev
}

// commit is measured() at the start of the run.
var commit string

// keepRun also writes a run's results under the commit it measured, as
// e2e-1000000-<commit>-<k>.json with the first k not taken: file is the
// latest run's, and the next run overwrites it. Outside a git checkout
// nothing more is written.
func keepRun(file string, data []byte) error {
	rev := commit
	if rev == "" {
		return nil
	}
	base := strings.TrimSuffix(file, ".json")
	for k := 1; ; k++ {
		name := fmt.Sprintf("%s-%s-%d.json", base, rev, k)
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return err
		}
		_, err = f.Write(data)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		fmt.Fprintf(os.Stderr, "results also kept as %s\n", name)
		return err
	}
}

// ratio prints r, or nothing when there is none or the baseline was too
// fast to time (a tiny run's floor rounds to 0 s).
func ratio(r float64) string {
	if r == 0 || math.IsInf(r, 0) || math.IsNaN(r) {
		return ""
	}
	return fmt.Sprintf("%.2f", r)
}

func abs(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return a
}

// project makes a fresh directory with an idsync config.
func project(dir, name, cfg string) string {
	d := filepath.Join(dir, name)
	_ = os.RemoveAll(d)
	_ = os.MkdirAll(d, 0o755)
	_ = os.WriteFile(filepath.Join(d, "idsync.yaml"), []byte(cfg), 0o644)
	return d
}

// measure runs a command under /usr/bin/time and reports wall time, CPU
// and peak RSS. (The kernel's rusage for a child of this process would
// count this process's memory too: Go starts children with vfork.) Stdout
// goes to stdoutFile, or is returned.
func measure(name, dir string, env []string, stdoutFile string, argv ...string) (result, []byte, error) {
	stats, err := os.CreateTemp("", "e2e-time-*")
	if err != nil {
		return result{}, nil, err
	}
	_ = stats.Close()
	defer func() { _ = os.Remove(stats.Name()) }()
	argv = append([]string{"/usr/bin/time", "-f", "%e %U %S %M", "-o", stats.Name()}, argv...)
	// Write back what earlier scenarios left dirty (gigabytes after an
	// apply), so it is not this one's disk time.
	syscall.Sync()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	var captured []byte
	var f *os.File
	if stdoutFile != "" {
		var err error
		if f, err = os.Create(stdoutFile); err != nil {
			return result{}, nil, err
		}
		defer f.Close() //nolint:errcheck // the command wrote it; a close error changes no figure
		cmd.Stdout = f
	}
	var stdout bytes.Buffer
	if f == nil {
		cmd.Stdout = &stdout
	}
	start := time.Now()
	err = cmd.Start()
	var peak memoryPeak
	if err == nil {
		stop := make(chan struct{})
		sampled := sampleMemory(cmd.Process.Pid, stop)
		err = cmd.Wait()
		close(stop)
		peak = <-sampled
	}
	captured = stdout.Bytes()
	wall := time.Since(start).Seconds()
	// 3 and 4 say everything else was applied (see the README's exit
	// codes); 1 and 2 that the run did not do its work, whose time would
	// then be no figure: the 10M build once "applied" every slice in 0.02 s.
	if code := cmd.ProcessState.ExitCode(); err != nil && code != 3 && code != 4 {
		return result{}, nil, fmt.Errorf("%s: %w", name, err)
	}
	r := result{Scenario: name, Wall: wall, AnonMB: float64(peak.anonKB) / 1024, FileMB: float64(peak.fileKB) / 1024}
	raw, err := os.ReadFile(stats.Name())
	if err != nil {
		return r, captured, err
	}
	var user, sys, rssKB float64
	if _, err := fmt.Sscanf(lastLine(string(raw)), "%f %f %f %f", &r.Wall, &user, &sys, &rssKB); err != nil {
		return r, captured, fmt.Errorf("%s: reading /usr/bin/time output %q: %w", name, raw, err)
	}
	r.CPU, r.RSSMB = user+sys, rssKB/1024
	return r, captured, nil
}

// lastLine skips the "Command exited with non-zero status" line time adds.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// honesty compares idsync's planned changes with DuckDB's: counts per
// target and action, and the first keys of each.
func honesty(planFile string, duckOut []byte) string {
	var duck struct {
		Counts  map[string]int      `json:"counts"`
		Samples map[string][]string `json:"samples"`
	}
	if err := json.Unmarshal(duckOut, &duck); err != nil {
		return "DuckDB output unreadable"
	}
	counts, keys := map[string]int{}, map[string][]string{}
	f, err := os.Open(planFile)
	if err != nil {
		return err.Error()
	}
	defer f.Close() //nolint:errcheck // read-only
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var op struct{ Target, Action, Object, Key, Group string }
		if json.Unmarshal(sc.Bytes(), &op) != nil {
			continue
		}
		k := op.Target + "/" + op.Action
		if op.Object == "group" && op.Action == "create" {
			k = op.Target + "/group-create"
		}
		counts[k]++
		keys[k] = append(keys[k], op.Key)
	}
	for k, v := range keys {
		slices.Sort(v)
		keys[k] = v[:min(5, len(v))]
	}
	for k := range duck.Counts {
		if counts[k] != duck.Counts[k] || !slices.Equal(keys[k], duck.Samples[k]) {
			return fmt.Sprintf("NO: %s idsync %d %v, DuckDB %d %v", k, counts[k], keys[k], duck.Counts[k], duck.Samples[k])
		}
	}
	for k, v := range counts {
		if duck.Counts[k] != v {
			return fmt.Sprintf("NO: %s idsync %d, DuckDB %d", k, v, duck.Counts[k])
		}
	}
	return "yes"
}

// generate writes s0, s1 (pct% changed) and the delta between them.
func generate(dir string, n int, pct float64) error {
	if _, err := os.Stat(filepath.Join(dir, "delta.csv")); err == nil {
		return nil // reuse: generation is seeded, the files are the same
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	day := time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC)
	s0 := population.Generate(population.Options{N: n, Seed: 1, Today: day})
	c := int(float64(n) * pct / 100)
	s1 := population.Change(s0, population.Changes{Hires: c / 4, Moves: c * 3 / 10, Renames: c * 15 / 100,
		ManagerChanges: c / 10, Terminations: c / 5}, 2, day)
	write := func(name string, people []population.Person) error {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		w := bufio.NewWriterSize(f, 1<<20)
		if err := population.WriteCSV(w, people); err != nil {
			return err
		}
		if err := w.Flush(); err != nil {
			return err
		}
		return f.Close()
	}
	if err := write("s0.csv", s0); err != nil {
		return err
	}
	if err := write("s1.csv", s1); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, "delta.csv"))
	if err != nil {
		return err
	}
	w := csv.NewWriter(bufio.NewWriterSize(f, 1<<20))
	_ = w.Write(append(slices.Clone(population.Header), "_deleted"))
	for i, p := range s1 {
		if i >= len(s0) || s0[i] != p {
			_ = w.Write([]string{p.EmployeeID, p.GivenName, p.Surname, p.Department, p.Title, p.ManagerID, p.Status, p.HireDate, p.Country, "false"})
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return err
	}
	return f.Close()
}

// firstWave measures an initial plan of s0 at the default opsPerRun: the
// first wave of a first load, whose memory the bound caps at any size.
func firstWave(dir, s0, idsync string, median func(name, dir string, env []string, stdoutFile string, argv ...string) (result, []byte, error)) (result, error) {
	d := project(dir, "wave", waves(config("jsonl", "directory", "app", "hris")))
	r, _, err := median("initial plan, first wave (opsPerRun default)", d, []string{"HR=" + s0}, filepath.Join(d, "plan.jsonl"),
		idsync, "-c", "idsync.yaml", "plan", "--format", "jsonl")
	return r, err
}
