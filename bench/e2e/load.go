package main

import (
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"github.com/idsync/idsync/bench/population"
	"github.com/idsync/idsync/snapshots"
)

// loadState writes a state of n managed identities per target into the
// project's state directory with the store's bulk Load, and a clean
// watermark, so the next plan reads the delta. At 10M identities an
// initial plan and apply would not fit in this machine's memory; the delta
// plan's cost depends on the state's size, not on how it was written.
// Entries carry no fingerprint or attributes, so every changed record is
// evaluated and diffed in full: no less work than after a real apply.
func loadState(project string, n int, add func(result)) error {
	start := time.Now()
	st, err := snapshots.Open(filepath.Join(project, "state"), snapshots.Options{})
	if err != nil {
		return err
	}
	for _, target := range []string{"directory", "app", "hris"} {
		i := 0
		err := st.Load(target, func() (snapshots.Entry, bool) {
			if i == n {
				return snapshots.Entry{}, false
			}
			i++
			return snapshots.Entry{Key: population.ID(i - 1), ID: strconv.Itoa(i)}, true
		})
		if err != nil {
			_ = st.Close()
			return fmt.Errorf("loading %s: %w", target, err)
		}
	}
	now := time.Now().Unix()
	if err := st.SetWatermark("hr", snapshots.Watermark{LastFull: now, LastRun: now, Clean: true, FullRecords: n}); err != nil {
		_ = st.Close()
		return err
	}
	if err := st.Close(); err != nil {
		return err
	}
	add(result{Scenario: fmt.Sprintf("setup: load %d entries x 3 targets", n), Wall: time.Since(start).Seconds()})
	return nil
}
