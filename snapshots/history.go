package snapshots

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
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
// under a log key (v6), and each record's history key holds only where
// its record is. The log is most of the bytes an apply writes (a first
// apply of 1M users wrote 700 MB of it), and written one per key it went
// through the LSM tree's memtables, flushes and compactions, which cost a
// third of the apply. Values this large go to Badger's value log instead,
// written once; RunLogGC reclaims them once they expire.
const (
	famHistory = 'h' // h<key>\x00<unix-nanos, 8 bytes><target> -> reference (v6) or record
	famLog     = 'L' // L<number, 8 bytes> -> the records of one PutHistory call
)

// logSeqKey numbers the log values and the journal batches.
var logSeqKey = []byte("m/log-seq")

// A log value is stored compressed (v8): logPacked, then the value S2
// compresses. Its records are JSON that repeats itself (field names, the
// run, the time, the target), and S2 made them 12x smaller at about 1.6
// GB/s, so a first apply of 1M users writes about 60 MB of log instead of
// 700 MB: a tenth of the disk, and of the value-log pages the write
// touches through Badger's map. Values from before v8 begin with their
// record count, never 0, and still read.
const logPacked = 0

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

// putLog writes entries as one log value and a reference to each.
//
// The references' keys and values are cut from one buffer, and their
// Badger entries from one slice: a first apply logs two records per user,
// and making each key, value and entry on its own took four or more
// allocations a record. With the records' own buffers (pipeline's
// historyLog), a 1M apply to SQLite made 109M allocations instead of 121M,
// for the same bytes (go tool pprof, alloc_objects). Badger holds on to
// the keys, values and entries until the transaction commits; nothing here
// writes them again.
func (s *Store) putLog(txn *badger.Txn, retention time.Duration, entries []HistoryEntry) error {
	num, err := s.nextNumber()
	if err != nil {
		return err
	}
	size := binary.MaxVarintLen64 * (1 + len(entries))
	refs := 0 // the bytes of the references' keys and values
	for _, h := range entries {
		size += len(h.Record)
		refs += historyKeyLen(h.Key, h.Target) + refLen
	}
	scratch := logScratch.Get().(*logBuffers)
	defer scratch.free()
	v := binary.AppendUvarint(slices.Grow(scratch.raw[:0], size), uint64(len(entries)))
	for _, h := range entries {
		v = binary.AppendUvarint(v, uint64(len(h.Record)))
	}
	for _, h := range entries {
		v = append(v, h.Record...)
	}
	scratch.raw = v
	scratch.packed = slices.Grow(scratch.packed[:0], s2.MaxEncodedLen(len(v)))
	// Badger keeps the value until the transaction commits, so it gets a
	// copy of its own, of the packed size: about a twelfth of the raw one.
	z := s2.Encode(scratch.packed[:cap(scratch.packed)], v)
	packed := append(append(make([]byte, 0, 1+len(z)), logPacked), z...)
	if err := txn.SetEntry(badger.NewEntry(logKey(num), packed).WithTTL(retention)); err != nil {
		return err
	}
	buf := make([]byte, 0, refs)
	cut := func(from int) []byte { return buf[from:len(buf):len(buf)] }
	es := make([]badger.Entry, len(entries))
	for i, h := range entries {
		from := len(buf)
		buf = appendHistoryKey(buf, h.Key, h.At, h.Target)
		k := cut(from)
		from = len(buf)
		buf = binary.AppendUvarint(binary.BigEndian.AppendUint64(append(buf, refMark), num), uint64(i))
		es[i] = badger.Entry{Key: k, Value: cut(from)}
		if err := txn.SetEntry(es[i].WithTTL(retention)); err != nil {
			return err
		}
	}
	return nil
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

// refLen is the most bytes a reference takes: refMark, the log value's
// number, and the record's index as a varint.
const refLen = 1 + 8 + binary.MaxVarintLen64

// historyKeyLen is the length of a history key of key and target.
func historyKeyLen(key, target string) int { return 1 + len(key) + 1 + 8 + len(target) }

// appendHistoryKey appends the history key of key's record for target at
// at: its prefix, the time, the target.
func appendHistoryKey(b []byte, key string, at time.Time, target string) []byte {
	b = binary.BigEndian.AppendUint64(appendHistoryPrefix(b, key), uint64(at.UnixNano()))
	return append(b, target...)
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
// time order.
func (s *Store) ScanHistory(key string, since time.Time, fn func(record []byte) error) error {
	return s.db.View(func(txn *badger.Txn) error {
		prefix := historyPrefix(key)
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		start := binary.BigEndian.AppendUint64(append([]byte{}, prefix...), uint64(max(since.UnixNano(), 0)))
		for it.Seek(start); it.Valid(); it.Next() {
			v, err := it.Item().ValueCopy(nil)
			if err == nil && len(v) > 0 && v[0] == refMark {
				v, err = readLogRecord(txn, v[1:])
			}
			if err != nil {
				return fmt.Errorf("provisioning log of %q: %w", key, err)
			}
			if v == nil {
				continue // its log value expired first
			}
			if err := fn(v); err != nil {
				return err
			}
		}
		return nil
	})
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
