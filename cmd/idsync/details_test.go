package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/idsync/idsync/snapshots"
)

// TestTheDaemonMakesTheDetailsFilesAtStart: a daemon, whose store
// compacts, makes the state's details cache files before it opens the
// store for good, and only when there are none.
func TestTheDaemonMakesTheDetailsFilesAtStart(t *testing.T) {
	dir := t.TempDir()
	s, err := snapshots.Open(dir, snapshots.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"E1", "E2"} {
		if err := s.Commit("dir", snapshots.Change{Entry: snapshots.Entry{Key: k, ID: k, Attrs: []byte(`{"a":1}`)}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"keys=2", ""} {
		var log bytes.Buffer
		if err := makeDetails(dir, slog.New(slog.NewTextHandler(&log, nil))); err != nil {
			t.Fatal(err)
		}
		if got := log.String(); want == "" && got != "" || !strings.Contains(got, want) {
			t.Errorf("start %d logged %q, want %q", i+1, got, want)
		}
	}
}
