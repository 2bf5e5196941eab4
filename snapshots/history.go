package snapshots

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/klauspost/compress/s2"
)

// History records are the provisioning log: one per op idsync applied or
// failed, kept per source key in time order, and dropped by Badger once
// their retention (a TTL) runs out.
//
// The records of one PutHistory call are stored together, as one value
// under a log key (v6), with a filter of their keys beside it (v10, see
// logfilter.go). The log is most of the bytes an apply writes (a first
// apply of 1M users wrote 700 MB of it), and written one per key it went
// through the LSM tree's memtables, flushes and compactions, which cost a
// third of the apply. Values this large go to Badger's value log instead,
// written once; RunLogGC reclaims them once they expire.
//
// From v6 to v9 each record also had a history key, which held where its
// record was (a reference); before v6 it held the record. Those still
// read, beside the values found through their filters.
const (
	famHistory = 'h' // h<key>\x00<unix-nanos, 8 bytes><target> -> reference (v6-v9) or record
	famLog     = 'L' // L<number, 8 bytes> -> the records of one PutHistory call
	famFilter  = 'K' // K<number, 8 bytes> -> the filter of log value <number> (v10)
)

// logSeqKey numbers the log values and the journal batches.
var logSeqKey = []byte("m/log-seq")

// A log value is stored compressed (v8): a mark, then the value S2
// compresses. Its records are JSON that repeats itself (field names, the
// run, the time, the target), and S2 made them 12x smaller at about 1.6
// GB/s, so a first apply of 1M users writes about 60 MB of log instead of
// 700 MB: a tenth of the disk, and of the value-log pages the write
// touches through Badger's map.
//
//   - logPacked (v8, v9): the record count, each record's length, then the
//     records. Values from before v8 are that, uncompressed, and begin
//     with their record count, never 0. References point into both.
//   - logKeyed (v10): the record count, then each record with its key,
//     target and time (see appendLogRecord), since no history key holds
//     them any more. Only a filter leads to such a value, so a value from
//     before v8 of one record, which also begins with 1, is never taken
//     for one.
const (
	logPacked = 0
	logKeyed  = 1
)

// A reference is refMark, the log value's number and the record's index in
// it. Records are JSON, which never starts with refMark, so history keys of
// stores before v6, which hold the record itself, still read.
const refMark = 0

// maxLogValue bounds one log value, below the largest value Badger keeps
// in memory (1 MB; see Open).
const maxLogValue = 512 << 10

func historyPrefix(key string) []byte { return appendHistoryPrefix(make([]byte, 0, len(key)+2), key) }

func appendHistoryPrefix(b []byte, key string) []byte {
	return append(append(append(b, famHistory), key...), 0)
}

func logKey(n uint64) []byte { return binary.BigEndian.AppendUint64([]byte{famLog}, n) }

// HistoryEntry is one provisioning-log record to store.
type HistoryEntry struct {
	Key, Target string
	At          time.Time
	// Record is the record, encoded (as JSON) by the caller.
	Record []byte
}

// PutHistory appends records, each kept for retention, in one transaction.
func (s *Store) PutHistory(retention time.Duration, entries ...HistoryEntry) error {
	return s.db.Update(func(txn *badger.Txn) error {
		for len(entries) > 0 {
			n := 1
			for size := len(entries[0].Record); n < len(entries) && size+len(entries[n].Record) <= maxLogValue; n++ {
				size += len(entries[n].Record)
			}
			if err := s.putLog(txn, retention, entries[:n]); err != nil {
				return err
			}
			entries = entries[n:]
		}
		return nil
	})
}

// putLog writes entries as one log value, and its filter.
func (s *Store) putLog(txn *badger.Txn, retention time.Duration, entries []HistoryEntry) error {
	num, err := s.nextNumber()
	if err != nil {
		return err
	}
	size := binary.MaxVarintLen64
	for _, h := range entries {
		size += logRecordLen(h)
	}
	scratch := logScratch.Get().(*logBuffers)
	defer scratch.free()
	v := binary.AppendUvarint(slices.Grow(scratch.raw[:0], size), uint64(len(entries)))
	for _, h := range entries {
		v = appendLogRecord(v, h)
	}
	scratch.raw = v
	scratch.packed = slices.Grow(scratch.packed[:0], s2.MaxEncodedLen(len(v)))
	// Badger keeps the value until the transaction commits, so it gets a
	// copy of its own, of the packed size: about a twelfth of the raw one.
	z := s2.Encode(scratch.packed[:cap(scratch.packed)], v)
	packed := append(append(make([]byte, 0, 1+len(z)), logKeyed), z...)
	if err := txn.SetEntry(badger.NewEntry(logKey(num), packed).WithTTL(retention)); err != nil {
		return err
	}
	return txn.SetEntry(badger.NewEntry(filterKey(num), newFilter(entries)).WithTTL(retention))
}

// logRecordLen is the most bytes appendLogRecord takes for h.
func logRecordLen(h HistoryEntry) int {
	return 3*binary.MaxVarintLen64 + 8 + len(h.Key) + len(h.Target) + len(h.Record)
}

// appendLogRecord appends h as a logKeyed value holds it: its key, its
// target, its time (Unix nanoseconds), then the record, each string after
// its length.
func appendLogRecord(b []byte, h HistoryEntry) []byte {
	b = append(binary.AppendUvarint(b, uint64(len(h.Key))), h.Key...)
	b = append(binary.AppendUvarint(b, uint64(len(h.Target))), h.Target...)
	b = binary.BigEndian.AppendUint64(b, uint64(h.At.UnixNano()))
	return append(binary.AppendUvarint(b, uint64(len(h.Record))), h.Record...)
}

// logBuffers are putLog's scratch: a log value's records side by side,
// and their compression. Made afresh for each value, they were 1.6 GB of
// garbage in a first apply of 1M users (most of it the room compression
// might need), all of it cleared before use, and much of it fresh memory.
type logBuffers struct{ raw, packed []byte }

var logScratch = sync.Pool{New: func() any { return &logBuffers{} }}

// free hands the buffers to the next putLog. Under test they are
// overwritten first, so a value that still points in reads garbage.
func (l *logBuffers) free() {
	if testing.Testing() {
		for _, b := range [][]byte{l.raw[:cap(l.raw)], l.packed[:cap(l.packed)]} {
			for i := range b {
				b[i] = 0xa5
			}
		}
	}
	logScratch.Put(l)
}

// nextNumber returns the next number of a log value or a journal batch,
// from a Badger sequence leased a thousand at a time (a restart skips the
// rest of a lease).
func (s *Store) nextNumber() (uint64, error) {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	if s.logSeq == nil {
		seq, err := s.db.GetSequence(logSeqKey, 1000)
		if err != nil {
			return 0, err
		}
		s.logSeq = seq
	}
	return s.logSeq.Next()
}

// ScanHistory calls fn with every record of key since the given time, in
// time order (and by target, for records of the same time).
func (s *Store) ScanHistory(key string, since time.Time, fn func(record []byte) error) error {
	var found []logRecord
	err := s.db.View(func(txn *badger.Txn) error {
		var err error
		if found, err = scanReferenced(txn, key, since, found); err != nil {
			return err
		}
		found, err = scanFiltered(txn, key, max(since.UnixNano(), 0), found)
		return err
	})
	if err != nil {
		return fmt.Errorf("provisioning log of %q: %w", key, err)
	}
	slices.SortStableFunc(found, func(a, b logRecord) int {
		return cmp.Or(cmp.Compare(a.at, b.at), strings.Compare(a.target, b.target))
	})
	for _, r := range found {
		if err := fn(r.record); err != nil {
			return err
		}
	}
	return nil
}

// logRecord is one record ScanHistory found, with what orders it.
type logRecord struct {
	at     int64
	target string
	record []byte
}

// scanReferenced appends key's records since since that history keys
// lead to (stores before v10).
func scanReferenced(txn *badger.Txn, key string, since time.Time, found []logRecord) ([]logRecord, error) {
	prefix := historyPrefix(key)
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	defer it.Close()
	start := binary.BigEndian.AppendUint64(append([]byte{}, prefix...), uint64(max(since.UnixNano(), 0)))
	for it.Seek(start); it.Valid(); it.Next() {
		k := it.Item().Key()
		if len(k) < len(prefix)+8 {
			return found, errBadLog
		}
		v, err := it.Item().ValueCopy(nil)
		if err == nil && len(v) > 0 && v[0] == refMark {
			v, err = readLogRecord(txn, v[1:])
		}
		if err != nil {
			return found, err
		}
		if v == nil {
			continue // its log value expired first
		}
		at := int64(binary.BigEndian.Uint64(k[len(prefix):]))
		found = append(found, logRecord{at: at, target: string(k[len(prefix)+8:]), record: v})
	}
	return found, nil
}

// scanFiltered appends key's records made at since or later from the log
// values whose filters may hold them (v10).
func scanFiltered(txn *badger.Txn, key string, since int64, found []logRecord) ([]logRecord, error) {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{famFilter}})
	defer it.Close()
	// About 1% of the filters hold a key they were not given, and each
	// such value is decompressed for nothing: 286 of them, 71 MB, for a
	// lookup in 20M records. One buffer takes them all in turn.
	var raw []byte
	for it.Rewind(); it.Valid(); it.Next() {
		item := it.Item()
		var may bool
		if err := item.Value(func(f []byte) error { may = filterMayHold(f, key, since); return nil }); err != nil {
			return found, err
		}
		if !may || len(item.Key()) != 9 {
			continue
		}
		var err error
		if found, raw, err = readKeyedLog(txn, binary.BigEndian.Uint64(item.Key()[1:]), key, since, found, raw); err != nil {
			return found, err
		}
	}
	return found, nil
}

// readKeyedLog appends key's records made at since or later from logKeyed
// value num, if it has not expired. It decompresses the value into raw,
// and returns the buffer for the next call.
func readKeyedLog(txn *badger.Txn, num uint64, key string, since int64, found []logRecord, raw []byte) ([]logRecord, []byte, error) {
	item, err := txn.Get(logKey(num))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return found, raw, nil
	}
	if err != nil {
		return found, raw, err
	}
	err = item.Value(func(v []byte) error {
		if len(v) == 0 || v[0] != logKeyed {
			return fmt.Errorf("%w %d: not a keyed value", errBadLog, num)
		}
		var err error
		raw, err = s2.Decode(raw[:cap(raw)], v[1:])
		if err != nil {
			return fmt.Errorf("%w %d: %w", errBadLog, num, err)
		}
		r := logReader{b: raw}
		for n := r.uvarint(); n > 0 && r.ok(); n-- {
			k, target, at, rec := r.bytes(), r.bytes(), r.uint64(), r.bytes()
			if r.ok() && string(k) == key && int64(at) >= since {
				found = append(found, logRecord{at: int64(at), target: string(target), record: slices.Clone(rec)})
			}
		}
		if !r.ok() {
			return fmt.Errorf("%w %d: truncated", errBadLog, num)
		}
		return nil
	})
	return found, raw, err
}

// logReader reads a logKeyed value's fields; once one does not fit, every
// later one reads as zero and ok reports false.
type logReader struct {
	b   []byte
	bad bool
}

func (r *logReader) ok() bool { return !r.bad }

func (r *logReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.bad, r.b = true, nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *logReader) uint64() uint64 {
	if len(r.b) < 8 {
		r.bad, r.b = true, nil
		return 0
	}
	v := binary.BigEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

func (r *logReader) bytes() []byte {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.bad, r.b = true, nil
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

var errBadLog = errors.New("unreadable log value")

// readLogRecord returns the record a reference points to, or nil if its
// log value is gone (both expire at the same time, to the second).
func readLogRecord(txn *badger.Txn, ref []byte) ([]byte, error) {
	if len(ref) < 9 {
		return nil, errBadLog
	}
	i, n := binary.Uvarint(ref[8:])
	if n <= 0 {
		return nil, errBadLog
	}
	item, err := txn.Get(logKey(binary.BigEndian.Uint64(ref)))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var rec []byte
	err = item.Value(func(v []byte) error {
		if len(v) > 0 && v[0] == logPacked {
			var err error
			if v, err = s2.Decode(nil, v[1:]); err != nil {
				return fmt.Errorf("%w: %w", errBadLog, err)
			}
		}
		count, n := binary.Uvarint(v)
		if n <= 0 || i >= count {
			return errBadLog
		}
		v = v[n:]
		var off, size uint64
		for j := uint64(0); j < count; j++ {
			l, n := binary.Uvarint(v)
			if n <= 0 {
				return errBadLog
			}
			v = v[n:]
			if j < i {
				off += l
			} else if j == i {
				size = l
			}
		}
		if off+size > uint64(len(v)) {
			return errBadLog
		}
		rec = append([]byte(nil), v[off:off+size]...)
		return nil
	})
	return rec, err
}

// RunLogGC reclaims the value-log space of expired log values. Badger
// learns which values are gone as its compactions drop them; this then
// rewrites (or simply deletes) the value-log files that are mostly
// garbage. It does little when nothing expired, so callers run it after
// every apply.
func (s *Store) RunLogGC() error {
	for {
		err := s.db.RunValueLogGC(0.5)
		if errors.Is(err, badger.ErrNoRewrite) || errors.Is(err, badger.ErrRejected) || errors.Is(err, badger.ErrGCInMemoryMode) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
