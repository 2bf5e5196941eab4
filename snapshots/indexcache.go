package snapshots

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	badger "github.com/dgraph-io/badger/v4"
)

// indexCache keeps a copy of each target's entries (ScanIndex's view of
// them) in files beside Badger, so that a full plan reads them
// sequentially instead of through Badger's iterator: at a million entries
// a target, the iterator was a third of a steady plan's CPU.
//
// Badger stays the truth. A target's files are the entries as of a point
// in time, plus the keys committed since (dirty), which are read back from
// Badger before the files are used again (refresh). On disk, a manifest
// says which files hold which target, stamped with Badger's last commit
// timestamp and each target's serial and count; Open trusts them only if
// all still match, so a process that stopped without Close, or any write
// the cache did not see, throws the files away. Every commit of entries
// bumps the serial (Commit) or the count (Load), and the format version
// is stamped too (migrate).
type indexCache struct {
	dir string // "" when the store keeps no cache (in memory)
	// commits is held for reading by commits of entries while they record
	// their keys and write, and for writing while a scan takes the point
	// in time it reads at: then no commit is half recorded.
	commits sync.RWMutex
	mu      sync.Mutex // guards the fields below
	targets map[string]cachedTarget
	// dirty holds the keys committed since a target's files were made;
	// it has an entry for every target with files or being scanned into
	// files, and only those record keys.
	dirty map[string]map[string]struct{}
	busy  map[string]bool // targets a scan is making or refreshing files for
	seq   uint64          // numbers new files
	// saved is false once the manifest on disk no longer says what
	// targets holds.
	saved bool
	reads atomic.Int64 // scans served from files, for tests
}

// cachedTarget is a target's files: all entries as of some point (Base),
// and the changes to them since (Overlay, "" when none), deletions as
// empty entries.
type cachedTarget struct {
	Base, Overlay   string
	BaseN, OverlayN uint64 // their records
}

// maxDirty bounds the keys recorded for one target: a first apply of a
// million creates would otherwise keep every key. Past it, or past a
// 32nd of the target's entries, the target's files are dropped, and the
// next full read makes new ones: reading a key back costs a point read
// (6-16 µs), and a new scan about 0.3 µs an entry. Tests lower it.
var maxDirty = 1 << 18

// tooDirty says when a target's files are cheaper made again than
// brought up to date.
func tooDirty(keys int, t cachedTarget) bool {
	return keys > maxDirty || uint64(keys) > max(foldAt, t.BaseN/32)
}

// foldAt is the fewest changes an overlay folds into its base at (when
// they are also an eighth of it). Tests lower it.
var foldAt uint64 = 1024

// manifestName is the cache's manifest in its directory.
const manifestName = "manifest.json"

type cacheManifest struct {
	Format  uint64
	Stamp   uint64 // Badger's last commit timestamp when written
	Targets map[string]manifestTarget
}

type manifestTarget struct {
	cachedTarget
	Serial, Count uint64
}

// open loads the manifest of dir's cache, keeping the targets whose files
// are still exact, and removes every other file.
func (c *indexCache) open(dir string, db *badger.DB) error {
	c.targets, c.dirty, c.busy = map[string]cachedTarget{}, map[string]map[string]struct{}{}, map[string]bool{}
	if dir == "" {
		return nil
	}
	c.dir = filepath.Join(dir, "index-cache")
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return err
	}
	var m cacheManifest
	b, err := os.ReadFile(filepath.Join(c.dir, manifestName))
	if err == nil && json.Unmarshal(b, &m) == nil && m.Format == FormatVersion {
		err = db.View(func(txn *badger.Txn) error {
			if txn.ReadTs() != m.Stamp {
				return nil
			}
			for name, t := range m.Targets {
				serial, count, err := targetStamp(txn, name)
				if err != nil {
					return err
				}
				if serial == t.Serial && count == t.Count {
					c.targets[name] = t.cachedTarget
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	for name := range c.targets {
		c.dirty[name] = map[string]struct{}{}
	}
	c.saved = len(c.targets) == len(m.Targets)
	if !c.saved {
		// Its files go below; a manifest left naming them could match a
		// state that reaches its stamp again after a crash lost commits.
		if err := os.Remove(filepath.Join(c.dir, manifestName)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return c.removeUnused()
}

// targetStamp is what a manifest stamps a target's files with, besides
// the last commit: its serial, which every commit bumps, and its count,
// which a load sets.
func targetStamp(txn *badger.Txn, target string) (n, count uint64, err error) {
	if n, err = serial(txn, target); err != nil {
		return 0, 0, err
	}
	count, err = readUint64(txn, countKey(target))
	return n, count, err
}

// removeUnused deletes the files no target uses and numbers new ones past
// every file seen.
func (c *indexCache) removeUnused() error {
	used := map[string]bool{}
	for _, t := range c.targets {
		used[t.Base], used[t.Overlay] = true, true
	}
	files, err := os.ReadDir(c.dir)
	if err != nil {
		return err
	}
	for _, f := range files {
		var n uint64
		if _, err := fmt.Sscanf(f.Name(), "%d.idx", &n); err == nil {
			c.seq = max(c.seq, n)
		}
		if f.Name() != manifestName && !used[f.Name()] {
			if err := os.Remove(filepath.Join(c.dir, f.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

// newFile names a new file.
func (c *indexCache) newFile() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	return fmt.Sprintf("%06d.idx", c.seq)
}

func (c *indexCache) path(name string) string { return filepath.Join(c.dir, name) }

// record notes the entries changes write, before they are committed, and
// returns what ends the commit. Recording more keys than end up written
// (a commit that fails) only costs their reading back.
func (c *indexCache) record(target string, changes []Change) (done func()) {
	if c.dir == "" {
		return func() {}
	}
	c.commits.RLock()
	c.mu.Lock()
	defer c.mu.Unlock()
	if keys, ok := c.dirty[target]; ok {
		for _, ch := range changes {
			if writesEntry(ch) {
				keys[ch.Entry.Key] = struct{}{}
			}
		}
		if tooDirty(len(keys), c.targets[target]) {
			c.drop(target)
		}
	}
	return c.commits.RUnlock
}

// writesEntry says whether a change may write its entry (see commitOne).
func writesEntry(ch Change) bool {
	return ch.Batch == 0 && ch.Group == nil && (ch.Delete || ch.Parts != PartGroups)
}

// drop forgets target's files, for a change the cache cannot follow.
// The caller holds mu.
func (c *indexCache) drop(target string) {
	if old, ok := c.targets[target]; ok {
		c.saved = false
		c.removeFiles(old, cachedTarget{})
	}
	delete(c.targets, target)
	delete(c.dirty, target)
}

// removeFiles deletes t's files but those keep uses. A target's files
// are never read again once replaced or dropped, and a daemon, which
// closes its store only when it stops, would otherwise pile up a base
// file at every fold. A manifest on disk may still name them, but only
// a stale one: files are replaced only after commits, which move the
// stamp, and a missing file is read from Badger anyway.
func (c *indexCache) removeFiles(t, keep cachedTarget) {
	for _, f := range []string{t.Base, t.Overlay} {
		if f != "" && f != keep.Base && f != keep.Overlay {
			_ = os.Remove(c.path(f))
		}
	}
}

// forget drops target's files for a write that records no keys, and
// returns what ends the write.
func (c *indexCache) forget(target string) (done func()) {
	if c.dir == "" {
		return func() {}
	}
	c.commits.RLock()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.drop(target)
	return c.commits.RUnlock
}

// take starts a scan of target: it returns the target's files and the
// keys committed since they were made, and a read transaction at the
// point in time from which new commits are recorded afresh. ok is false
// when another scan of target is under way; that one keeps the files.
func (c *indexCache) take(db *badger.DB, target string) (t cachedTarget, has bool, dirty map[string]struct{}, txn *badger.Txn, ok bool) {
	c.commits.Lock()
	defer c.commits.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	txn = db.NewTransaction(false)
	if c.busy[target] {
		return t, false, nil, txn, false
	}
	c.busy[target] = true
	t, has = c.targets[target]
	dirty = c.dirty[target]
	c.dirty[target] = map[string]struct{}{}
	return t, has, dirty, txn, true
}

// put ends a scan of target, with files valid as of its transaction (or
// none, on failure). They are kept unless a commit since dropped the
// target.
func (c *indexCache) put(target string, t cachedTarget, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.busy, target)
	old, had := c.targets[target]
	if _, recording := c.dirty[target]; !ok || !recording {
		c.removeFiles(t, old) // new files this scan made
		c.drop(target)
		return
	}
	if !had || old != t {
		c.saved = false
		c.removeFiles(old, t)
	}
	c.targets[target] = t
}

// close brings every target's files up to date and writes the manifest.
// Nothing may commit after it: the manifest is stamped with the last
// commit.
func (c *indexCache) close(db *badger.DB) error {
	if c.dir == "" {
		return nil
	}
	c.mu.Lock()
	names := make([]string, 0, len(c.targets))
	for name := range c.targets {
		if len(c.dirty[name]) > 0 || !c.saved {
			names = append(names, name)
		}
	}
	saved := c.saved
	c.mu.Unlock()
	if len(names) == 0 && saved {
		return nil // the manifest on disk is right
	}
	for _, name := range names {
		t, has, dirty, txn, ok := c.take(db, name)
		if !ok || !has {
			txn.Discard()
			continue
		}
		nt, err := c.refresh(txn, name, t, dirty)
		txn.Discard()
		c.put(name, nt, err == nil)
	}
	m := cacheManifest{Format: FormatVersion, Targets: map[string]manifestTarget{}}
	err := db.View(func(txn *badger.Txn) error {
		m.Stamp = txn.ReadTs()
		c.mu.Lock()
		defer c.mu.Unlock()
		for name, t := range c.targets {
			serial, count, err := targetStamp(txn, name)
			if err != nil {
				return err
			}
			m.Targets[name] = manifestTarget{cachedTarget: t, Serial: serial, Count: count}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := writeManifest(c.dir, m); err != nil {
		return err
	}
	return c.removeUnused()
}

func writeManifest(dir string, m cacheManifest) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".manifest-*")
	if err != nil {
		return err
	}
	_, err = f.Write(b) // no fsync, as for the files (indexWriter.finish)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), filepath.Join(dir, manifestName))
	}
	if err != nil {
		_ = os.Remove(f.Name())
	}
	return err
}

// refresh makes target's files as of txn from files t and the keys
// committed since (dirty): their entries, read back from Badger, become
// the overlay. When the overlay outgrows an eighth of the base, the two
// are merged into a new base, so a read never merges a large overlay.
func (c *indexCache) refresh(txn *badger.Txn, target string, t cachedTarget, dirty map[string]struct{}) (cachedTarget, error) {
	if len(dirty) == 0 {
		return t, nil
	}
	keys := make([]string, 0, len(dirty))
	for k := range dirty {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	fresh := make([]record, len(keys))
	for i, k := range keys {
		fresh[i].key = []byte(k)
		item, err := txn.Get(objectKey(target, k))
		switch {
		case errors.Is(err, badger.ErrKeyNotFound):
			fresh[i].entry = []byte{} // deleted
		case err != nil:
			return t, err
		default:
			if fresh[i].entry, err = item.ValueCopy(nil); err != nil {
				return t, err
			}
		}
	}
	changes := fresh
	if t.Overlay != "" {
		old, err := readRecords(c.path(t.Overlay))
		if err != nil {
			return t, err
		}
		changes = mergeRecords(old, fresh)
	}
	nt := cachedTarget{Base: t.Base, BaseN: t.BaseN, Overlay: c.newFile(), OverlayN: uint64(len(changes))}
	if uint64(len(changes)) > max(foldAt, t.BaseN/8) {
		nt = cachedTarget{Base: c.newFile()}
		w, err := createIndexFile(c.path(nt.Base))
		if err != nil {
			return t, err
		}
		err = readMerged(c.path(t.Base), changes, func(key, entry []byte) error { return w.add(key, entry) })
		if err != nil {
			w.abort()
			return t, err
		}
		nt.BaseN = w.records
		return nt, w.finish()
	}
	return nt, writeRecords(c.path(nt.Overlay), changes)
}

// scan reads target's files: the base with the overlay over it.
func (c *indexCache) scan(t cachedTarget, fn func(key, entry []byte) error) error {
	var changes []record
	if t.Overlay != "" {
		var err error
		if changes, err = readRecords(c.path(t.Overlay)); err != nil {
			return err
		}
	}
	if err := checkIndexFile(c.path(t.Base)); err != nil {
		return err
	}
	return readMerged(c.path(t.Base), changes, fn)
}

// record is one record of an index file, owned.
type record struct{ key, entry []byte }

// readRecords reads a whole (small) index file.
func readRecords(path string) ([]record, error) {
	r, err := openIndexFile(path)
	if err != nil {
		return nil, err
	}
	defer r.close()
	var out []record
	for {
		more, err := r.next()
		if err != nil {
			return nil, err
		}
		if !more {
			return out, nil
		}
		out = append(out, record{key: slices.Clone(r.key), entry: slices.Clone(r.entry)})
	}
}

func writeRecords(path string, recs []record) error {
	w, err := createIndexFile(path)
	if err != nil {
		return err
	}
	for _, r := range recs {
		if err := w.add(r.key, r.entry); err != nil {
			w.abort()
			return err
		}
	}
	return w.finish()
}

// mergeRecords merges two key-ordered lists; newer's record wins a key
// both have.
func mergeRecords(older, newer []record) []record {
	out := make([]record, 0, len(older)+len(newer))
	i, j := 0, 0
	for i < len(older) || j < len(newer) {
		switch {
		case j == len(newer) || (i < len(older) && string(older[i].key) < string(newer[j].key)):
			out = append(out, older[i])
			i++
		default:
			if i < len(older) && string(older[i].key) == string(newer[j].key) {
				i++
			}
			out = append(out, newer[j])
			j++
		}
	}
	return out
}

// readMerged streams the base file at path with changes (key-ordered)
// over it: a change replaces the base's record of its key, and an empty
// entry removes it. The base is not checked first (see checkIndexFile).
func readMerged(path string, changes []record, fn func(key, entry []byte) error) error {
	r, err := openIndexFile(path)
	if err != nil {
		return err
	}
	defer r.close()
	more, err := r.next()
	for err == nil && (more || len(changes) > 0) {
		switch {
		case len(changes) > 0 && (!more || strings.Compare(string(changes[0].key), string(r.key)) <= 0):
			ch := changes[0]
			changes = changes[1:]
			if more && string(ch.key) == string(r.key) {
				more, err = r.next()
			}
			if len(ch.entry) > 0 {
				if ferr := fn(ch.key, ch.entry); ferr != nil {
					return ferr
				}
			}
		default:
			if ferr := fn(r.key, r.entry); ferr != nil {
				return ferr
			}
			more, err = r.next()
		}
	}
	return err
}
