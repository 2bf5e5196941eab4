package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/idsync/idsync/bench/population"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	n := fs.Int("n", 1000, "number of people")
	seed := fs.Uint64("seed", 1, "random seed")
	today := fs.String("today", "2025-03-03", "date hire dates are relative to (YYYY-MM-DD)")
	out := fs.String("o", "-", "output file; .jsonl writes JSON Lines, anything else CSV")
	var c population.Changes
	fs.IntVar(&c.Hires, "hires", 0, "change set: new hires")
	fs.IntVar(&c.Moves, "moves", 0, "change set: department moves")
	fs.IntVar(&c.Renames, "renames", 0, "change set: surname changes")
	fs.IntVar(&c.ManagerChanges, "manager-changes", 0, "change set: manager changes")
	fs.IntVar(&c.Terminations, "terminations", 0, "change set: terminations")
	fs.IntVar(&c.Rehires, "rehires", 0, "change set: rehires of terminated people")
	changeSeed := fs.Uint64("change-seed", 2, "random seed of the change set")
	if err := fs.Parse(args); err != nil {
		return err
	}
	day, err := time.Parse("2006-01-02", *today)
	if err != nil {
		return fmt.Errorf("-today: %w", err)
	}
	people := population.Generate(population.Options{N: *n, Seed: *seed, Today: day})
	if c != (population.Changes{}) {
		people = population.Change(people, c, *changeSeed, day)
	}
	w := os.Stdout
	if *out != "-" {
		if w, err = os.Create(*out); err != nil {
			return err
		}
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	if strings.HasSuffix(*out, ".jsonl") {
		err = population.WriteJSONL(bw, people)
	} else {
		err = population.WriteCSV(bw, people)
	}
	err = errors.Join(err, bw.Flush())
	if w != os.Stdout {
		err = errors.Join(err, w.Close())
	}
	return err
}
