package pipeline

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/idsync/idsync/connectors"
	"github.com/idsync/idsync/connectors/attrjson"
	"github.com/idsync/idsync/pipeline/config"
	"github.com/idsync/idsync/snapshots"
)

// HistoryRecord is one line of the provisioning log: what idsync did to
// one identity in one target, and how it went.
type HistoryRecord struct {
	Run     string              `json:"run"`
	Time    time.Time           `json:"time"`
	Target  string              `json:"target"`
	Key     string              `json:"key"`
	Action  string              `json:"action"`
	Group   string              `json:"group,omitempty"`
	Reason  string              `json:"reason,omitempty"`
	Changes []connectors.Change `json:"changes,omitempty"`
	// Result is "applied", "failed" or "held".
	Result string `json:"result"`
	Error  string `json:"error,omitempty"`
}

// newRunID names one run in logs and the provisioning log.
func newRunID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// history records op's outcome. Values of sensitive attributes are
// replaced before they are stored: the log is for people to read.
func (a *applier) history(op connectors.Op, result string, err error) {
	if h, ok := a.historyEntry(op, result, err); ok {
		a.writeHistory(h)
	}
}

// historyEntry is op's provisioning-log record; group objects have none
// (they have no identity to look up).
func (a *applier) historyEntry(op connectors.Op, result string, err error) (snapshots.HistoryEntry, bool) {
	buf := make([]byte, 0, recordRoom(op))
	return a.appendHistoryEntry(&buf, op, result, err)
}

// recordRoom is about the bytes op's record takes, a little over for most:
// the bench's membership records take 177 bytes and its creates, ten
// changes each, about 600.
func recordRoom(op connectors.Op) int { return 192 + 48*len(op.Changes) }

// historyLog holds the provisioning-log records of a batch of ops in one
// buffer: a first apply logs two records per user, each in a buffer of its
// own until this (see snapshots' putLog for what the two changes saved).
// PutHistory copies the records, so the buffer is garbage once they are
// written.
type historyLog struct {
	buf     []byte
	entries []snapshots.HistoryEntry
}

// newHistoryLog makes a log for n ops whose records take about room
// bytes (the sum of their recordRoom), in the buffers of one written
// before when there is one: made afresh for each batch, they were 0.96 GB
// of garbage in a first apply of 1M users.
func newHistoryLog(n, room int) *historyLog {
	l := historyLogs.Get().(*historyLog)
	l.buf, l.entries = slices.Grow(l.buf[:0], room), slices.Grow(l.entries[:0], n)
	return l
}

var historyLogs = sync.Pool{New: func() any { return &historyLog{} }}

// write stores the log's records, and hands its buffers to the next log:
// PutHistory copies the records.
func (l *historyLog) write(a *applier) {
	a.writeHistory(l.entries...)
	clear(l.entries) // they name the ops' keys
	if testing.Testing() {
		// A record still read after this reads garbage.
		for i, b := 0, l.buf[:cap(l.buf)]; i < len(b); i++ {
			b[i] = 0xa5
		}
	}
	historyLogs.Put(l)
}

// add logs op as applied.
func (l *historyLog) add(a *applier, op connectors.Op) {
	if h, ok := a.appendHistoryEntry(&l.buf, op, "applied", nil); ok {
		l.entries = append(l.entries, h)
	}
}

// appendHistoryEntry is historyEntry with the record appended to *buf.
// The record is a slice of *buf; a buffer that grows leaves the records
// before in the memory they were written to.
func (a *applier) appendHistoryEntry(buf *[]byte, op connectors.Op, result string, err error) (snapshots.HistoryEntry, bool) {
	if op.Object == connectors.Group {
		return snapshots.HistoryEntry{}, false
	}
	rec := HistoryRecord{Run: a.runID, Time: a.e.opts.Now, Target: a.t.cfg.Name, Key: op.Key, Action: op.Action.String(),
		Group: op.Group, Reason: op.Reason, Result: result}
	rec.Changes = op.Changes
	if slices.ContainsFunc(op.Changes, func(c connectors.Change) bool { return slices.Contains(a.sensitive, c.Attr) }) {
		rec.Changes = slices.Clone(op.Changes) // the op's own values are still to be committed
		for i, c := range rec.Changes {
			if slices.Contains(a.sensitive, c.Attr) {
				rec.Changes[i].Old, rec.Changes[i].New = redacted(c.Old), redacted(c.New)
			}
		}
	}
	if err != nil {
		rec.Error = err.Error()
	}
	// Records of one key in one run keep their order: time plus a counter.
	a.mu.Lock()
	a.seq++
	at := a.e.opts.Now.Add(time.Duration(a.seq))
	a.mu.Unlock()
	from := len(*buf)
	*buf = appendHistory(*buf, &rec)
	return snapshots.HistoryEntry{Key: op.Key, Target: a.t.cfg.Name, At: at, Record: (*buf)[from:len(*buf):len(*buf)]}, true
}

// appendHistory appends r as encoding/json writes it (TestHistoryJSON
// holds the two to the same bytes): the log writes a record per op, and
// reflection made encoding them 2.5% of a first apply's CPU.
func appendHistory(b []byte, r *HistoryRecord) []byte {
	b = append(b, `{"run":`...)
	b = attrjson.AppendString(b, r.Run)
	b = append(b, `,"time":"`...)
	b = r.Time.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","target":`...)
	b = attrjson.AppendString(b, r.Target)
	b = append(b, `,"key":`...)
	b = attrjson.AppendString(b, r.Key)
	b = append(b, `,"action":`...)
	b = attrjson.AppendString(b, r.Action)
	b = attrjson.AppendField(b, "group", r.Group)
	b = attrjson.AppendField(b, "reason", r.Reason)
	if len(r.Changes) > 0 {
		b = append(b, `,"changes":`...)
		b = appendChanges(b, r.Changes)
	}
	b = append(b, `,"result":`...)
	b = attrjson.AppendString(b, r.Result)
	b = attrjson.AppendField(b, "error", r.Error)
	return append(b, '}')
}

// writeHistory stores log records in one transaction. A failure is
// logged, not returned: the log must never stop provisioning.
func (a *applier) writeHistory(entries ...snapshots.HistoryEntry) {
	if len(entries) == 0 {
		return
	}
	keep := a.e.c.cfg.LogRetention
	if keep <= 0 {
		keep = config.DefaultLogRetention // a config built in code rather than loaded
	}
	if err := a.e.store.PutHistory(keep, entries...); err != nil {
		a.log.Error("provisioning log write failed", "records", len(entries), "first", entries[0].Key, "err", err)
	}
}

func redacted(v connectors.Value) connectors.Value {
	if v == nil {
		return nil
	}
	return "(sensitive)"
}

// History returns the provisioning log of one identity since a time,
// optionally for one target, oldest first.
func (e *Engine) History(key, target string, since time.Time) ([]HistoryRecord, error) {
	var out []HistoryRecord
	err := e.store.ScanHistory(key, since, func(b []byte) error {
		var r HistoryRecord
		if err := json.Unmarshal(b, &r); err != nil {
			return err
		}
		if target == "" || r.Target == target {
			out = append(out, r)
		}
		return nil
	})
	return out, err
}

// appendChanges appends changes as the JSON array encoding/json writes.
func appendChanges(b []byte, changes []connectors.Change) []byte {
	b = append(b, '[')
	for i, c := range changes {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"attr":`...)
		b = attrjson.AppendString(b, c.Attr)
		if c.Old != nil {
			b = append(b, `,"old":`...)
			b = attrjson.AppendValue(b, c.Old)
		}
		b = append(b, `,"new":`...)
		b = attrjson.AppendValue(b, c.New)
		b = append(b, '}')
	}
	return append(b, ']')
}
