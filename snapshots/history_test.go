package snapshots

import (
	"strings"
	"testing"
	"time"
)

// TestHistoryRetention: records come back in time order from since on,
// and a record past its retention is gone.
func TestHistoryRetention(t *testing.T) {
	s := memStore(t)
	t0 := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	put := func(at time.Time, rec string, keep time.Duration) {
		t.Helper()
		if err := s.PutHistory(keep, HistoryEntry{Key: "E1", Target: "crm", At: at, Record: []byte(`"` + rec + `"`)}); err != nil {
			t.Fatal(err)
		}
	}
	put(t0.Add(2*time.Hour), "late", time.Hour)
	put(t0, "early", time.Hour)
	put(t0.Add(time.Hour), "brief", time.Second)
	if err := s.PutHistory(time.Hour, HistoryEntry{Key: "E2", Target: "crm", At: t0, Record: []byte(`"other key"`)}); err != nil {
		t.Fatal(err)
	}
	scan := func(since time.Time) string {
		t.Helper()
		var got []string
		if err := s.ScanHistory("E1", since, func(b []byte) error { got = append(got, string(b)); return nil }); err != nil {
			t.Fatal(err)
		}
		return strings.Join(got, " ")
	}
	if got, want := scan(time.Time{}), `"early" "brief" "late"`; got != want {
		t.Errorf("all of E1 = %s, want %s", got, want)
	}
	if got, want := scan(t0.Add(30*time.Minute)), `"brief" "late"`; got != want {
		t.Errorf("E1 since 09:30 = %s, want %s", got, want)
	}
	// Badger's TTL has one-second resolution.
	time.Sleep(2100 * time.Millisecond)
	if got, want := scan(time.Time{}), `"early" "late"`; got != want {
		t.Errorf("after the brief record's retention = %s, want %s", got, want)
	}
}
