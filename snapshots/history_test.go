package snapshots

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/klauspost/compress/s2"
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

// TestHistoryReadsEveryLayout: records stored apart from their history keys
// (v6), in values split at maxLogValue, read back in time order alongside
// records an older store kept in the history key itself.
func TestHistoryReadsEveryLayout(t *testing.T) {
	s := memStore(t)
	t0 := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	legacy := func(at time.Time, rec string) {
		t.Helper()
		k := binary.BigEndian.AppendUint64(historyPrefix("E1"), uint64(at.UnixNano()))
		must(t, s.db.Update(func(txn *badger.Txn) error { return txn.Set(append(k, "crm"...), []byte(rec)) }))
	}
	legacy(t0, `{"v":"old 1"}`)
	legacy(t0.Add(3*time.Minute), `{"v":"old 2"}`)
	// A log value as v6 and v7 stored it, uncompressed: record count,
	// lengths, records.
	unpacked := func(num uint64, at time.Time, recs ...string) {
		t.Helper()
		v := binary.AppendUvarint(nil, uint64(len(recs)))
		for _, r := range recs {
			v = binary.AppendUvarint(v, uint64(len(r)))
		}
		for _, r := range recs {
			v = append(v, r...)
		}
		must(t, s.db.Update(func(txn *badger.Txn) error {
			if err := txn.Set(logKey(num), v); err != nil {
				return err
			}
			k := append(binary.BigEndian.AppendUint64(historyPrefix("E1"), uint64(at.UnixNano())), "hr"...)
			return txn.Set(k, binary.AppendUvarint(binary.BigEndian.AppendUint64([]byte{refMark}, num), 1))
		}))
	}
	unpacked(1<<40, t0.Add(3*time.Minute+time.Second), `{"v":"other"}`, `{"v":"v7"}`)
	// The same, compressed (v8, v9).
	must(t, s.db.Update(func(txn *badger.Txn) error {
		v := binary.AppendUvarint(nil, 2)
		for _, r := range []string{`{"v":"v9"}`, `{"v":"other"}`} {
			v = binary.AppendUvarint(v, uint64(len(r)))
		}
		v = append(v, `{"v":"v9"}{"v":"other"}`...)
		if err := txn.Set(logKey(1<<41), append([]byte{logPacked}, s2.Encode(nil, v)...)); err != nil {
			return err
		}
		k := append(binary.BigEndian.AppendUint64(historyPrefix("E1"), uint64(t0.Add(5*time.Minute).UnixNano())), "crm"...)
		return txn.Set(k, binary.AppendUvarint(binary.BigEndian.AppendUint64([]byte{refMark}, 1<<41), 0))
	}))
	big := strings.Repeat("x", maxLogValue/2)
	must(t, s.PutHistory(time.Hour,
		HistoryEntry{Key: "E1", Target: "crm", At: t0.Add(time.Minute), Record: []byte(`{"v":"new 1"}`)},
		HistoryEntry{Key: "E2", Target: "crm", At: t0.Add(time.Minute), Record: []byte(`{"v":"other key"}`)},
		HistoryEntry{Key: "E1", Target: "app", At: t0.Add(2 * time.Minute), Record: []byte(`"` + big + `1"`)},
		HistoryEntry{Key: "E1", Target: "crm", At: t0.Add(4 * time.Minute), Record: []byte(`"` + big + `2"`)},
		HistoryEntry{Key: "E1", Target: "hr", At: t0.Add(5 * time.Minute), Record: []byte(`{"v":"new 4"}`)}))
	must(t, s.PutHistory(time.Hour, HistoryEntry{Key: "E1", Target: "crm", At: t0.Add(6 * time.Minute), Record: []byte(`{"v":"new 5"}`)}))

	var got []string
	must(t, s.ScanHistory("E1", time.Time{}, func(b []byte) error { got = append(got, string(b)); return nil }))
	// At 09:05 the v9 record and "new 4" tie: "crm" < "hr".
	want := []string{`{"v":"old 1"}`, `{"v":"new 1"}`, `"` + big + `1"`, `{"v":"old 2"}`, `{"v":"v7"}`, `"` + big + `2"`, `{"v":"v9"}`, `{"v":"new 4"}`, `{"v":"new 5"}`}
	if !slices.Equal(got, want) {
		short := func(rs []string) (out []string) {
			for _, r := range rs {
				out = append(out, fmt.Sprintf("%.16s…(%d bytes)", r, len(r)))
			}
			return out
		}
		t.Errorf("E1's records =\n%q\nwant\n%q", short(got), short(want))
	}
	// The two large records could not share a value.
	values := 0
	must(t, s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{famLog}})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			values++
		}
		return nil
	}))
	if values != 5 {
		t.Errorf("%d log values, want 5 (the first call split at %d bytes, the second, the v7 and the v9 one)", values, maxLogValue)
	}
}

// TestLogGCFreesExpiredRecords: once the log's records expire, RunLogGC
// gives their value-log files back.
func TestLogGCFreesExpiredRecords(t *testing.T) {
	dir := t.TempDir()
	open := func() *Store {
		t.Helper()
		s, err := Open(dir, Options{tune: func(o badger.Options) badger.Options {
			// Small value-log files, and the compaction that drops expired
			// keys (which tells Badger their values are garbage) on close.
			return o.WithValueLogFileSize(1 << 20).WithCompactL0OnClose(true)
		}})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := open()
	// Records that do not compress (see logPacked), so the log's values
	// are as large as they look.
	r := rand.New(rand.NewPCG(1, 2))
	at := time.Now()
	for call := range 40 { // 40 calls of 100 kB: four 1 MB value-log files
		var entries []HistoryEntry
		for i := range 50 {
			at = at.Add(time.Millisecond)
			noise := make([]byte, 1000)
			for j := range noise {
				noise[j] = byte(r.Uint32())
			}
			rec := []byte(`"` + hex.EncodeToString(noise) + `"`)
			entries = append(entries, HistoryEntry{Key: fmt.Sprintf("E%d", call*50+i), Target: "crm", At: at, Record: rec})
		}
		must(t, s.PutHistory(time.Second, entries...))
	}
	must(t, s.PutHistory(time.Hour, HistoryEntry{Key: "E1", Target: "crm", At: at.Add(time.Millisecond), Record: []byte(`"kept"`)}))
	before := vlogBytes(t, dir)
	time.Sleep(2100 * time.Millisecond)
	must(t, s.Close())
	s = open()
	defer s.Close()
	must(t, s.RunLogGC())
	if after := vlogBytes(t, dir); after > before/2 {
		t.Errorf("value log is %d bytes after the records expired, %d before: not reclaimed", after, before)
	}
	var got []string
	must(t, s.ScanHistory("E1", time.Time{}, func(b []byte) error { got = append(got, string(b)); return nil }))
	if !slices.Equal(got, []string{`"kept"`}) {
		t.Errorf("E1's records after GC = %q, want only the one still kept", got)
	}
}

// vlogBytes is the bytes written to dir's value-log files (Badger
// preallocates them sparse, so their sizes overstate it).
func vlogBytes(t *testing.T, dir string) int64 {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.vlog"))
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, f := range files {
		var st syscall.Stat_t
		must(t, syscall.Stat(f, &st))
		n += st.Blocks * 512
	}
	return n
}

// TestLogValuesAreCompressed: a call's records are stored as one
// compressed value (v8), and read back as they were put.
func TestLogValuesAreCompressed(t *testing.T) {
	s := memStore(t)
	at := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	var entries []HistoryEntry
	raw := 0
	for i := range 200 {
		rec := fmt.Sprintf(`{"run":"b4eaa0c5fb8f","time":"2025-03-01T09:00:00Z","target":"crm","key":"E%d","action":"create","reason":"new","changes":[{"attr":"userName","new":"e%d"},{"attr":"department","new":"Finance"}],"result":"applied"}`, i, i)
		raw += len(rec)
		entries = append(entries, HistoryEntry{Key: fmt.Sprintf("E%d", i), Target: "crm", At: at, Record: []byte(rec)})
	}
	must(t, s.PutHistory(time.Hour, entries...))
	var stored [][]byte
	must(t, s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{famLog}})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			stored = append(stored, v)
		}
		return nil
	}))
	if len(stored) != 1 {
		t.Fatalf("%d log values, want 1", len(stored))
	}
	if v := stored[0]; v[0] != logKeyed || len(v) > raw/4 {
		t.Errorf("the log value starts %#x and takes %d bytes for %d bytes of records: not compressed", v[0], len(v), raw)
	}
	for _, i := range []int{0, 117, 199} {
		var got []string
		must(t, s.ScanHistory(fmt.Sprintf("E%d", i), time.Time{}, func(b []byte) error { got = append(got, string(b)); return nil }))
		if want := string(entries[i].Record); len(got) != 1 || got[0] != want {
			t.Errorf("E%d's records = %q, want %q", i, got, want)
		}
	}
}

// TestLogFilterSkipsValues: a lookup reads only the log values whose
// filters may hold its key from since on, and says which value it could
// not read.
func TestLogFilterSkipsValues(t *testing.T) {
	s := memStore(t)
	t0 := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	for i, at := range []time.Time{t0, t0.Add(time.Hour)} {
		must(t, s.PutHistory(time.Hour,
			HistoryEntry{Key: "E1", Target: "crm", At: at, Record: []byte(fmt.Sprintf(`"E1 %d"`, i))},
			HistoryEntry{Key: "E2", Target: "crm", At: at, Record: []byte(fmt.Sprintf(`"E2 %d"`, i))}))
	}
	// Spoil the earlier value.
	var first uint64
	must(t, s.db.Update(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{famFilter}})
		it.Rewind()
		first = binary.BigEndian.Uint64(it.Item().Key()[1:])
		it.Close()
		return txn.Set(logKey(first), []byte{logKeyed, 0xff})
	}))
	scan := func(key string, since time.Time) (string, error) {
		var got []string
		err := s.ScanHistory(key, since, func(b []byte) error { got = append(got, string(b)); return nil })
		return strings.Join(got, " "), err
	}
	if got, err := scan("E2", t0.Add(time.Minute)); err != nil || got != `"E2 1"` {
		t.Errorf("E2 since 09:01 = %s, %v; want only the later record, the spoiled value unread", got, err)
	}
	if got, err := scan("E3", time.Time{}); err != nil || got != "" {
		t.Errorf("E3, in no filter = %q, %v; want nothing, no value read", got, err)
	}
	_, err := scan("E1", time.Time{})
	if want := fmt.Sprintf("unreadable log value %d", first); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("E1 from the start: err = %v, want one saying %q", err, want)
	}
}

// TestLogFilterHoldsItsKeys: a filter holds every key put in it, and few
// others.
func TestLogFilterHoldsItsKeys(t *testing.T) {
	at := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	var entries []HistoryEntry
	for i := range 1000 {
		entries = append(entries, HistoryEntry{Key: fmt.Sprintf("E%07d", i*7), At: at.Add(time.Duration(i) * time.Second)})
	}
	f := newFilter(entries)
	for _, h := range entries {
		if !filterMayHold(f, h.Key, 0) {
			t.Fatalf("the filter lost %s", h.Key)
		}
	}
	if filterMayHold(f, entries[0].Key, at.Add(time.Hour).UnixNano()) {
		t.Errorf("a filter whose records end at 09:16:39 may hold one from 10:00")
	}
	if !filterMayHold(f, entries[0].Key, at.Add(999*time.Second).UnixNano()) {
		t.Errorf("a filter whose last record is at since was passed over")
	}
	wrong := 0
	for i := range 10000 {
		if filterMayHold(f, fmt.Sprintf("E%07d", i*7+3), 0) {
			wrong++
		}
	}
	if wrong > 300 {
		t.Errorf("%d of 10,000 absent keys may be held, want about 1%%", wrong)
	}
}
