package snapshots

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	badger "github.com/dgraph-io/badger/v4"
)

// indexCache keeps a copy of each target's entries (ScanIndex's view of
// them), and of every key's details (detailscache.go), in files beside
// Badger, so that a full plan reads them
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
	// tables are the files lookups have opened (indexview.go).
	tables map[string]*indexTable
	seq    uint64 // numbers new files
	// saved is false once the manifest on disk no longer says what
	// targets holds.
	saved   bool
	reads   atomic.Int64 // scans served from files, for tests
	lookups atomic.Int64 // entries looked up in files, for tests
	details atomic.Int64 // keys whose details came from files, for tests
}

// cachedTarget is a target's files: all entries as of some point (Base),
// and the changes to them since (Overlay, "" when none), deletions as
// empty entries.
type cachedTarget struct {
	Base, Overlay   string
	BaseN, OverlayN uint64 // their records
	// Gen names this set of files, at random and never 0, so that a file
	// derived from them (derived.go) can tell whether they are still the
	// target's: file names alone can come back, since a new process
	// numbers its files past those it finds, not past those it removed.
	Gen uint64
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

// foldBytes is the most an overlay holds before it folds into its base,
// whatever its share: the details' overlay is about 540 bytes a key, and
// at 10M keys an eighth of them would be 700 MB in memory at each
// refresh. Tests lower it.
var foldBytes = 64 << 20

// has reports whether name (a target, or the details) has files.
func (c *indexCache) has(name string) bool {
	if c.dir == "" {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.targets[name]
	return ok && t.Base != ""
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
	c.note(target, changes, writesEntry)
	c.note(detailsTarget, changes, writesDetails)
	return c.commits.RUnlock
}

// note records the keys of changes that writes says touch what name's
// files copy, if it has any. The caller holds mu.
func (c *indexCache) note(name string, changes []Change, writes func(Change) bool) {
	keys, ok := c.dirty[name]
	if !ok {
		return
	}
	for _, ch := range changes {
		if writes(ch) {
			keys[ch.Entry.Key] = struct{}{}
		}
	}
	if tooDirty(len(keys), c.targets[name]) {
		c.drop(name)
	}
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
			c.forgetTable(f)
			_ = os.Remove(c.path(f))
		}
	}
}

// forget drops names' files for a write that records no keys, and
// returns what ends the write.
func (c *indexCache) forget(names ...string) (done func()) {
	if c.dir == "" {
		return func() {}
	}
	c.commits.RLock()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, name := range names {
		c.drop(name)
	}
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
// target; kept is their generation (cachedTarget.Gen), 0 when they are
// not kept.
func (c *indexCache) put(target string, t cachedTarget, ok bool) (kept uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.busy, target)
	old, had := c.targets[target]
	if _, recording := c.dirty[target]; !ok || !recording {
		c.removeFiles(t, old) // new files this scan made
		c.drop(target)
		return 0
	}
	if !had || old.files() != t.files() {
		c.saved = false
		c.removeFiles(old, t)
		t.Gen = newGen()
	}
	c.targets[target] = t
	return t.Gen
}

// files is t but for its generation.
func (t cachedTarget) files() cachedTarget {
	t.Gen = 0
	return t
}

// newGen is a new files' generation: random, and never 0.
func newGen() uint64 { return rand.Uint64() | 1 }

// gen is target's files' generation when they are up to date: no commit
// since they were made, and no scan under way. It is 0 otherwise.
func (c *indexCache) gen(target string) uint64 {
	if c.dir == "" {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.targets[target]
	if !ok || t.Base == "" || len(c.dirty[target]) > 0 || c.busy[target] {
		return 0
	}
	return t.Gen
}
