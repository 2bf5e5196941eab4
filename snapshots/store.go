package snapshots

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	"github.com/dgraph-io/ristretto/v2/z"
)

// Errors callers match with errors.Is.
var (
	// ErrLocked: another process holds the state directory.
	ErrLocked = errors.New("state directory is in use by another idsync process")
	// ErrNewerFormat: the store was written by a newer idsync.
	ErrNewerFormat = errors.New("state was written by a newer idsync")
)

// Options configure Open. Zero values take the stated defaults.
type Options struct {
	// InMemory keeps everything in memory; for tests. Dir is ignored.
	InMemory bool
	// SyncWrites fsyncs every commit. Defaults to false: commits then
	// survive a killed process (the OS holds them) but not a power cut;
	// callers call Sync at their commit points instead.
	SyncWrites bool
	// NoCompactions keeps Badger's compactors off, for a process that
	// writes next to nothing, as a plan does. No table then closes while
	// the store is open, which makes TrimMapped safe (see mapped.go).
	// Many writes would stall: with nothing compacting them, Badger stops
	// writers once level 0 holds 16 tables.
	NoCompactions bool
	// tune adjusts Badger's options, for tests.
	tune func(badger.Options) badger.Options
}

// Store is an open state directory. It is safe for concurrent use.
type Store struct {
	db *badger.DB
	// logSeq numbers the provisioning log's values; leased on first use.
	logMu  sync.Mutex
	logSeq *badger.Sequence
	trim   mappedTrim
	cache  indexCache // copies of the entries for full scans (indexcache.go)
}

// Open opens (creating if needed) the state directory. Badger's directory
// lock makes a second process fail fast with ErrLocked.
func Open(dir string, opts Options) (*Store, error) {
	s, err := open(dir, opts)
	if errors.Is(err, errUpgradeCompacts) {
		// An upgrade rewrites entries, maybe more than a level 0 that
		// nothing compacts can take before Badger stalls its writers.
		opts.NoCompactions = false
		s, err = open(dir, opts)
	}
	return s, err
}

// errUpgradeCompacts: the store needs an upgrade, which needs compactions.
var errUpgradeCompacts = errors.New("the key format upgrade needs compactions")

func open(dir string, opts Options) (*Store, error) {
	bo := badger.DefaultOptions(dir).
		WithLogger(nil).
		// Badger's own expvar counters, which nothing reads here: each
		// point read bumped several shared atomics (1% of an apply).
		WithMetricsEnabled(false).
		WithSyncWrites(opts.SyncWrites).
		WithInMemory(opts.InMemory).
		// Entries are small; keeping them in the LSM tree makes in-order
		// scans read one place.
		WithValueThreshold(1 << 10).
		// Only the provisioning log's values are larger (see history.go).
		// Smaller value-log files than Badger's 1 GB let RunLogGC free
		// expired log sooner, and bound what the first open after an
		// apply reads: Badger reads the newest file whole to find its
		// end. Once the log was compressed, a 1M-create apply's log fit
		// in one 256 MB file, and the first plan after it read all 220
		// MB of it (3.25 s and 351 MB, against 2.37 s and 227 MB with 64
		// MB files). The SQLite apply took the same time either way
		// (41-52 s against 44-53 s, three pairs, on a noisy host).
		WithValueLogFileSize(64 << 20).
		WithNumVersionsToKeep(1).
		// Badger's defaults (five 64 MB memtables, a 256 MB block cache)
		// suit a database server. idsync scans state once per run, so
		// less memory does (memtable.go).
		WithMemTableSize(memTableSize(dir, opts)).
		WithNumMemtables(3).
		// Fewer, larger tables and levels: a first apply writes about a
		// gigabyte per million identities (most of it the provisioning
		// log), and with Badger's 2 MB tables and 10 MB base level the
		// compactions rewrote it so often that syncing new tables was a
		// tenth of the apply. 1M creates to SQLite: 108.7 s against 97.6 s.
		WithBaseTableSize(8 << 20).
		WithBaseLevelSize(64 << 20).
		// Sixteen tables in level 0 before compacting them, not eight. A
		// first apply writes keys of each family in order, but every
		// flushed table spans all the families, so each compaction of
		// level 0 rewrote most of level 1. A 1M-create apply flushes 11
		// tables: at 16 it compacts none. To SQLite, four alternating
		// pairs: 27.6-31.2 s against 30.7-35.0 s, 2.44-2.50 GB peak
		// against 2.68-2.80 GB; the first plan after it, which walks every
		// table, 3.12 s against 3.03 s, the same plan.
		WithNumLevelZeroTables(16).
		WithNumLevelZeroTablesStall(32).
		WithIndexCacheSize(16 << 20).
		// Snappy. Badger writes each new table through a fresh memory map
		// and msyncs it, which on this host costs about 30 µs a page in
		// faults and TLB shootdowns: most of a first apply's time in the
		// state store. Compressed tables are half the pages. 1M
		// creates to SQLite, alternating: 37.5, 44.1, 35.3, 39.2 s against
		// 41.1, 53.5, 48.0, 39.1 s, with 4-7 s less system time; 284 MB of
		// state against 599. Plans read entries and details from the index
		// cache files (indexcache.go, detailscache.go), so decompressing
		// costs only reads that miss them: the first full plan after that
		// apply, which walks every table to make them, took 3.4 s against
		// 2.6 s, and later full and delta plans the same as without. An
		// earlier round chose no compression, when plans read Badger and
		// faults cost less: there compression was a fifth of an apply's
		// CPU.
		WithCompression(options.Snappy).
		// Badger decompresses into its block cache, and refuses
		// compression without one. Scans read each block once, so a small
		// cache does: at 8 MB the first plan after the apply peaked at
		// 151-154 MB, at 32 MB at 184-190 MB (150-161 MB uncompressed).
		WithBlockCacheSize(8 << 20)
	if opts.NoCompactions {
		bo = bo.WithNumCompactors(0)
	}
	if opts.InMemory {
		bo.Dir, bo.ValueDir = "", ""
		// With no value log, Badger refuses values above the threshold,
		// and the provisioning log's are larger (up to maxLogValue).
		bo = bo.WithValueThreshold(1 << 20)
	}
	if opts.tune != nil {
		bo = opts.tune(bo)
	}
	db, err := badger.Open(bo)
	// Badger wraps with %+v, not %w, so only the text can tell.
	if err != nil && strings.Contains(err.Error(), z.NewFile.Error()) {
		// A process killed while Badger was starting a memtable leaves an
		// empty .mem file, which the next Open trips over and the one after
		// it repairs (dgraph-io/badger#2207, open as of v4.9.6). The kill -9
		// test hits this; retrying once is Badger's own recovery path.
		db, err = badger.Open(bo)
	}
	if err != nil {
		if strings.Contains(err.Error(), "Cannot acquire directory lock") {
			return nil, fmt.Errorf("%s: %w", dir, ErrLocked)
		}
		return nil, fmt.Errorf("open state %s: %w", dir, err)
	}
	s := &Store{db: db}
	if err := s.checkVersion(dir, opts.NoCompactions); err != nil {
		_ = db.Close() // the version error is the one to report
		return nil, err
	}
	cacheDir := dir
	if opts.InMemory {
		cacheDir = ""
	}
	if err := s.cache.open(cacheDir, db); err != nil {
		// A cache that cannot be read or made (a full disk) is only not
		// used: full plans then scan Badger, as without one.
		s.cache = indexCache{}
		_ = s.cache.open("", db)
	}
	s.trim.start(dir, opts, db.Tables())
	return s, nil
}

func (s *Store) checkVersion(dir string, noCompactions bool) error {
	var got uint64
	err := s.db.Update(func(txn *badger.Txn) error {
		item, err := txn.Get(versionKey)
		if errors.Is(err, badger.ErrKeyNotFound) {
			got = FormatVersion
			return txn.Set(versionKey, putUint64(FormatVersion))
		}
		if err != nil {
			return err
		}
		v, err := item.ValueCopy(nil)
		if err != nil {
			return err
		}
		if len(v) != 8 {
			return fmt.Errorf("state %s: unreadable format version", dir)
		}
		got = binary.BigEndian.Uint64(v)
		return nil
	})
	switch {
	case err != nil:
		return err
	case got > FormatVersion:
		return fmt.Errorf("state %s uses key format v%d, this idsync reads up to v%d: %w", dir, got, FormatVersion, ErrNewerFormat)
	case got < rewritten && noCompactions:
		return errUpgradeCompacts
	case got < FormatVersion:
		if err := s.migrate(got); err != nil {
			return fmt.Errorf("state %s: upgrading key format v%d to v%d: %w", dir, got, FormatVersion, err)
		}
	}
	if noCompactions {
		// The engine finishes an upgrade from v4 by moving every user's
		// groups out of its attributes (MoveGroups): an entry a user.
		legacy, err := s.LegacyGroups()
		if err != nil {
			return err
		}
		if legacy {
			return errUpgradeCompacts
		}
	}
	return nil
}

// Close flushes and closes the store.
func (s *Store) Close() error {
	s.trim.mu.Lock() // no trim while Badger unmaps its tables
	defer s.trim.mu.Unlock()
	s.trim.on = false
	s.logMu.Lock()
	defer s.logMu.Unlock()
	if s.logSeq != nil {
		if err := s.logSeq.Release(); err != nil {
			_ = s.db.Close() // the lease error is the one to report
			return err
		}
		s.logSeq = nil
	}
	// Last, after every write: the cache's manifest is stamped with the
	// last commit. A cache that cannot be saved is only not used next time.
	_ = s.cache.close(s.db)
	s.cache.closeTables()
	return s.db.Close()
}

// Sync makes every commit so far durable.
func (s *Store) Sync() error { return s.db.Sync() }

// Scan calls fn for every entry of target in key order. Attributes are
// decoded only when withAttrs is true. An in-order scan costs well under a
// microsecond a key, against 6-16 µs for random point reads.
func (s *Store) Scan(target string, withAttrs bool, fn func(Entry) error) error {
	return s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: false, Prefix: objectPrefix(target)})
		defer it.Close()
		plen := len(objectPrefix(target))
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			e := Entry{Key: string(item.Key()[plen:])}
			if err := item.Value(e.decode); err != nil {
				return fmt.Errorf("target %s key %q: %w", target, e.Key, err)
			}
			if withAttrs {
				if err := readAttrs(txn, target, &e); err != nil {
					return err
				}
			}
			if err := fn(e); err != nil {
				return err
			}
		}
		return nil
	})
}

// Get returns the entry for key, with attributes; Groups reads its groups.
func (s *Store) Get(target, key string) (Entry, bool, error) {
	e := Entry{Key: key}
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(objectKey(target, key))
		if err != nil {
			return err
		}
		if err := item.Value(e.decode); err != nil {
			return err
		}
		return readAttrs(txn, target, &e)
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return Entry{}, false, nil
	}
	return e, err == nil, err
}

// Details returns target's stored attributes for key, and with groups its
// user's groups (nil when it has none), for a caller that already has the
// rest of the entry from an index. A target that manages no groups has
// none to read.
func (s *Store) Details(target, key string, groups bool) (attrs []byte, groupNames []string, err error) {
	e := Entry{Key: key}
	err = s.db.View(func(txn *badger.Txn) error {
		if err := readAttrs(txn, target, &e); err != nil || !groups {
			return err
		}
		return readGroups(txn, target, &e)
	})
	return e.Attrs, e.Groups, err
}

// readAttrs fills e's attributes from their own key.
func readAttrs(txn *badger.Txn, target string, e *Entry) error {
	return readOptional(txn, attrsKey(target, e.Key), func(v []byte) error {
		e.Attrs = bytes.Clone(v)
		return nil
	})
}

// readOptional calls fn with key's value, valid only during the call; a
// missing key is no error and calls nothing.
func readOptional(txn *badger.Txn, key []byte, fn func(v []byte) error) error {
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return item.Value(fn)
}

// KeyForID follows a reverse link: which source key owns target id.
func (s *Store) KeyForID(target, id string) (string, bool, error) {
	var key string
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(linkKey(target, id))
		if err != nil {
			return err
		}
		v, err := item.ValueCopy(nil)
		key = string(v)
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return "", false, nil
	}
	return key, err == nil, err
}

// Serial is a counter bumped by every commit to target. A saved plan
// records it so apply can refuse a plan whose state has moved.
func (s *Store) Serial(target string) (uint64, error) {
	var n uint64
	err := s.db.View(func(txn *badger.Txn) error {
		var err error
		n, err = serial(txn, target)
		return err
	})
	return n, err
}

func serial(txn *badger.Txn, target string) (uint64, error) {
	return readUint64(txn, serialKey(target))
}

// readUint64 reads a counter; a missing one is 0.
func readUint64(txn *badger.Txn, key []byte) (uint64, error) {
	var n uint64
	err := readOptional(txn, key, func(v []byte) error {
		if len(v) == 8 {
			n = binary.BigEndian.Uint64(v)
		}
		return nil
	})
	return n, err
}

// Change is one write in a commit: an object entry, or (when Group is
// set) a group entry. Delete removes it (an entry by Entry.Key, with its
// attributes, groups and link; a group by Group.Name).
type Change struct {
	Entry  Entry
	Group  *GroupEntry
	Delete bool
	// Parts says what of the entry a change writes; zero means the entry
	// and its attributes, leaving its groups as they are.
	Parts Parts
	// Journaled removes the journal record of Entry.Key in the same
	// transaction: the op it recorded is now reflected in state.
	Journaled bool
	// Batch, set alone, removes journal batch record Batch in the same
	// transaction as the other changes: the commit of a bulk's successes.
	Batch uint64
	// Known, when set, is the entry as the caller read it just before, so
	// Commit need not read it again: at a million entries each point read
	// costs microseconds, and a first apply's membership commits made four
	// of them per member. Only a caller that keeps every other commit of
	// the key out between its read and this commit may set it (the engine
	// holds its commit lock across both).
	Known *Known
}

// Parts of an entry a Change writes.
type Parts uint8

const (
	PartEntry  Parts = 1 << iota // the entry itself: link, status, fingerprint
	PartAttrs                    // its attributes
	PartGroups                   // its groups
)

// Known is what a caller read of an entry: the entry, if Found.
type Known struct {
	Entry Entry
	Found bool
}

// Commit applies changes to target atomically, keeps reverse links, the
// deprovisioned list and the entry count in step, and bumps the target's
// serial.
func (s *Store) Commit(target string, changes ...Change) error {
	defer s.cache.record(target, changes)()
	return s.db.Update(func(txn *badger.Txn) error {
		added := int64(0)
		for _, c := range changes {
			n, err := commitOne(txn, target, c)
			if err != nil {
				return err
			}
			added += n
		}
		if added != 0 {
			n, err := readUint64(txn, countKey(target))
			if err != nil {
				return err
			}
			if err := txn.Set(countKey(target), putUint64(uint64(int64(n)+added))); err != nil {
				return err
			}
		}
		n, err := serial(txn, target)
		if err != nil {
			return err
		}
		return txn.Set(serialKey(target), putUint64(n+1))
	})
}

// commitOne writes one change and returns how it changed the entry count.
func commitOne(txn *badger.Txn, target string, c Change) (int64, error) {
	if c.Batch != 0 {
		return 0, txn.Delete(batchKey(target, c.Batch))
	}
	if c.Group != nil {
		if c.Delete {
			return 0, txn.Delete(groupKey(target, c.Group.Name))
		}
		return 0, txn.Set(groupKey(target, c.Group.Name), c.Group.encode())
	}
	if c.Journaled {
		if err := txn.Delete(journalKey(target, c.Entry.Key)); err != nil {
			return 0, err
		}
	}
	parts := c.Parts
	if parts == 0 {
		parts = PartEntry | PartAttrs
	}
	if parts&PartGroups != 0 && !c.Delete {
		if err := writeGroups(txn, target, c.Entry.Key, c.Entry.Groups); err != nil {
			return 0, err
		}
		if parts == PartGroups {
			return 0, nil // a membership change: nothing else moves
		}
	}
	ok := objectKey(target, c.Entry.Key)
	old, existed, err := previous(txn, ok, c.Known)
	if err != nil {
		return 0, err
	}
	// Drop the old reverse link if the id changed or the entry goes.
	if existed && (c.Delete || old.ID != c.Entry.ID) {
		if err := txn.Delete(linkKey(target, old.ID)); err != nil {
			return 0, err
		}
	}
	ak := attrsKey(target, c.Entry.Key)
	if c.Delete {
		if !existed {
			return 0, nil
		}
		if err := setDeprovisioned(txn, target, c.Entry.Key, old, Entry{}); err != nil {
			return 0, err
		}
		if err := txn.Delete(ak); err != nil {
			return 0, err
		}
		if err := txn.Delete(membersKey(target, c.Entry.Key)); err != nil {
			return 0, err
		}
		return -1, txn.Delete(ok)
	}
	if err := setDeprovisioned(txn, target, c.Entry.Key, old, c.Entry); err != nil {
		return 0, err
	}
	if err := txn.Set(ok, c.Entry.encode()); err != nil {
		return 0, err
	}
	if parts&PartAttrs != 0 {
		if len(c.Entry.Attrs) > 0 {
			if err := txn.Set(ak, c.Entry.Attrs); err != nil {
				return 0, err
			}
		} else if existed {
			if err := txn.Delete(ak); err != nil { // it may have had some
				return 0, err
			}
		}
	}
	if existed && old.ID == c.Entry.ID {
		return 0, nil // the link stands: most commits change attributes only
	}
	n := int64(1)
	if existed {
		n = 0
	}
	return n, txn.Set(linkKey(target, c.Entry.ID), []byte(c.Entry.Key))
}

// previous is the entry a change replaces: the caller's, when it knows it.
func previous(txn *badger.Txn, key []byte, known *Known) (Entry, bool, error) {
	if known != nil {
		return known.Entry, known.Found, nil
	}
	var old Entry
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return old, false, nil
	}
	if err != nil {
		return old, false, err
	}
	return old, true, item.Value(old.decode)
}

// setDeprovisioned keeps the deprovisioned list in step as an entry goes
// from old to new (the zero Entry: none).
func setDeprovisioned(txn *badger.Txn, target, key string, old, new Entry) error {
	switch {
	case new.Deprovisioned && (!old.Deprovisioned || old.Since != new.Since):
		return txn.Set(deprovKey(target, key), putUint64(uint64(new.Since)))
	case old.Deprovisioned && !new.Deprovisioned:
		return txn.Delete(deprovKey(target, key))
	}
	return nil
}
