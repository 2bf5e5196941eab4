package pipeline

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"unsafe"

	"github.com/idsync/idsync/pipeline/diff"
	"github.com/idsync/idsync/snapshots"
)

// indexEntry is what planning keeps per managed object: enough to skip
// unchanged records and deprovision absent ones without reading their
// attributes. Grace periods expire from their own scan (finish.go), so
// the time an entry's status changed is not kept here.
type indexEntry struct {
	hash          uint64 // the fingerprint, its low bits cleared (see slot)
	id            keptID // as the index keeps it (see ids.go)
	disabled      bool
	deprovisioned bool
}

// stored is the entry as the differ takes it. Its id is a copy: ops keep
// it, and the index's id arena is otherwise garbage once the plan is made.
func (ie indexEntry) stored() *diff.Stored {
	return &diff.Stored{ID: ie.id.owned(), Disabled: ie.disabled, Deprovisioned: ie.deprovisioned}
}

// stateIndex answers "is key managed, and how" for one target during a
// plan.
//
// A full read needs every entry (to find the absent ones). The targets of
// one source then share one keyTable of all their keys, and their entries
// sit side by side per key (rows[n*stride+col]), so a record costs one
// probe and one or two cache lines for all targets at once, not a probe
// per target: at a million keys each probe is a cache miss or two.
//
// A delta read needs only the keys it reads, so it looks those up batch by
// batch, each target in its own table: a delta of 10k records costs 10k
// lookups, not a scan of millions of entries.
type stateIndex struct {
	store  *snapshots.Store
	target string
	// all is true when the index holds every entry of the target.
	all bool
	mu  sync.RWMutex // guards the fields below while a delta's lookups fill them
	// keys numbers the keys; rows[n*stride+col] is key n's slot here.
	keys        *keyTable
	rows        []slot
	stride, col int
	ids         []byte    // the arena of the entries' ids
	idOf        idOffsets // where key n's id starts in ids
}

// slot is one key's entry in one target: 8 bytes, since a 10M plan of
// three targets holds 30M of them (at 16, with the flags in a field of
// their own and the padding after, the 10M steady plan's own memory
// peaked at 1.04 GB instead of 0.93). Its id's place is kept apart
// (idOffsets), and only by targets whose ids are not their keys: at 12
// bytes with it, the bench's 1M steady plan (three targets keyed by the
// source's key) held 12 MB of offsets that all said "the key", and its
// 10M steady plan peaked at 880-897 MB against 774-787 MB now. A key
// looked up and not managed (or, in a shared table, managed by another
// target only) is not present.
//
// The flags take the fingerprint's low bits (slotFlags), so that a plan
// compares 61 bits of it (sameFingerprint): a record that changed still
// goes unnoticed only with odds of one in 2^61.
type slot struct {
	hash [2]uint32 // the fingerprint's high and low words, flags in the low bits
}

const (
	slotPresent uint64 = 1 << iota
	slotDisabled
	slotDeprovisioned

	slotFlags = slotPresent | slotDisabled | slotDeprovisioned
)

// bits is the fingerprint with the flags in its low bits.
func (s slot) bits() uint64 { return uint64(s.hash[0])<<32 | uint64(s.hash[1]) }

func (s slot) present() bool { return s.bits()&slotPresent != 0 }

// errIDsFull says a target's ids passed what a slot can point into.
var errIDsFull = errors.New("its entries' ids pass the 4 GB a plan's index holds for one target")

// maxIDBytes is the most a target's ids may take (see newSlot). Tests
// lower it.
var maxIDBytes = math.MaxUint32

// newSlot is the slot of key's managed entry, and where its id starts in
// ids: idIsKey when the id is the key, else where it was kept. An offset
// is 32 bits, so ids may hold at most 4 GB: 30M entries with ids of 140
// bytes. Past that the offsets would wrap and name other entries' ids, so
// it fails instead.
func newSlot(ids *[]byte, key, id []byte, hash uint64, disabled, deprovisioned bool) (slot, uint32, error) {
	if len(*ids)+binary.MaxVarintLen64+len(id) > maxIDBytes {
		return slot{}, 0, errIDsFull
	}
	bits := hash&^slotFlags | slotPresent
	if disabled {
		bits |= slotDisabled
	}
	if deprovisioned {
		bits |= slotDeprovisioned
	}
	s := slot{hash: [2]uint32{uint32(bits >> 32), uint32(bits)}}
	if bytes.Equal(id, key) {
		return s, idIsKey, nil
	}
	return s, keepID(ids, id), nil
}

// sameFingerprint reports whether a stored fingerprint (an entry's hash,
// flags cleared) is a record's, h, but for the bits a slot keeps its
// flags in.
func sameFingerprint(stored, h uint64) bool { return stored == h&^slotFlags }

// indexBytes is about how much memory a full read's state index holds:
// the shared key table, the slots, and each target's ids. It is 0 on a
// delta read, whose indexes hold only the keys it reads.
func indexBytes(keys *keyTable, runs []*targetRun) int64 {
	if keys == nil || len(runs) == 0 {
		return 0
	}
	n := keys.bytes() + int64(cap(runs[0].index.rows))*int64(unsafe.Sizeof(slot{}))
	for _, tr := range runs {
		n += int64(cap(tr.index.ids)) + int64(cap(tr.index.idOf))*4
	}
	return n
}

// position is a key's number in a full read's shared keyTable.
type position struct {
	n     int32
	known bool
}

// loadIndexes gives each target its index, and a full read's source run
// the shared key table.
func (e *Engine) loadIndexes(sr *sourceRun, runs []*targetRun) error {
	if !sr.full {
		for _, tr := range runs {
			tr.index = &stateIndex{store: e.store, target: tr.t.cfg.Name, keys: newKeyTable(0), stride: 1}
		}
		return nil
	}
	names := make([]string, len(runs))
	size := 0
	for i, tr := range runs {
		names[i], size = tr.t.cfg.Name, max(size, tr.out.Managed)
	}
	m, from, err := e.mergeIndexes(sr.s.cfg.Name, names, size)
	if err != nil {
		return err
	}
	sr.keys, sr.releaseIndex = m.keys, m.release
	e.metric(func(m *Metrics) {
		for i, name := range names {
			m.indexReads.WithLabelValues(name, from[i]).Inc()
		}
	})
	for i, tr := range runs {
		tr.index = &stateIndex{store: e.store, target: tr.t.cfg.Name, all: true, keys: m.keys, rows: m.rows,
			stride: len(runs), col: i, ids: m.ids[i], idOf: m.idOf[i]}
	}
	return nil
}

// mergeIndexes is the merged index of targets (in order) of source, with
// where each target's entries came from: "merged" when the index was
// kept and is mapped back (indexblob.go; its release must then be
// called), else "cache" or "store". size is about how many keys the
// largest target has. An index merged from files that the store keeps is
// kept for the next plan.
func (e *Engine) mergeIndexes(source string, targets []string, size int) (*mergedIndex, []string, error) {
	from := make([]string, len(targets))
	name, gens := blobName(source, targets), make([]uint64, len(targets))
	for i, t := range targets {
		gens[i] = e.store.IndexGen(t)
	}
	payload, release, err := e.store.MapDerived(name, gens)
	if err != nil {
		e.opts.Log.Warn("merging the state index anew: its copy cannot be read", "source", source, "err", err)
	}
	if payload != nil {
		if m, err := decodeBlob(payload, len(targets)); err == nil {
			for i := range from {
				from[i] = "merged"
			}
			m.release = release
			return m, from, nil
		}
	}
	release()
	// Each target's entries are scanned in key order, side by side, and
	// merged into one table as they come.
	scans := make([]*indexScan, len(targets))
	for i, t := range targets {
		scans[i] = newIndexScan(size)
		go scans[i].run(e.store, t)
	}
	m := merge(scans, size)
	errs := make([]error, len(scans))
	for i, sc := range scans {
		errs[i] = sc.err // merge has drained every scan, so each has ended
		m.ids[i], gens[i], from[i] = sc.ids, sc.scanned.Gen, "store"
		if sc.scanned.FromCache {
			from[i] = "cache"
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	if !slices.Contains(gens, 0) {
		if err := e.store.WriteDerived(name, gens, m.sections()...); err != nil {
			e.opts.Log.Warn("the merged state index could not be kept for the next plan", "source", source, "err", err)
		}
	}
	return m, from, nil
}

// indexScan streams one target's entries, in key order, to merge a chunk
// at a time. Scanning every target whole before merging held each
// target's keys and slots twice over at the peak: 1.5 GB of a 10M
// plan's heap.
type indexScan struct {
	full chan *indexChunk // chunks in key order; closed when the scan ends
	free chan *indexChunk // chunks merge has finished with
	// ids holds the slots' ids. Only the scan writes it, and merge copies
	// slots without reading it, so it is read only after the scan ends.
	// It is made, idsCap bytes, at the first id that is not its entry's
	// key: a target whose ids are its keys (a file, a SQL table keyed by
	// the source's key) needs none, and the collector counts memory made
	// as held whether or not it is touched, so 8 MB made for each of the
	// bench's three targets at 1M entries let the heap grow 12 MB further
	// before each collection.
	ids     []byte
	idsCap  int
	err     error // set before full is closed
	scanned snapshots.Scanned

	cur *indexChunk // merge's chunk, and its place in it
	at  int
}

// indexChunk is up to chunkEntries consecutive entries of one target.
type indexChunk struct {
	arena []byte // keys
	keys  []span
	slots []slot
	idOf  []uint32 // where each id starts in the scan's ids (see newSlot)
}

// chunkEntries is the size of a chunk; with three per scan, a scan holds
// about 1.5 MB however many entries its target has. Tests lower it.
var chunkEntries = 1 << 14

func newIndexScan(size int) *indexScan {
	const chunks = 3 // one filling, one queued, one merging
	sc := &indexScan{full: make(chan *indexChunk, chunks), free: make(chan *indexChunk, chunks),
		idsCap: size * 8}
	for range chunks {
		sc.free <- &indexChunk{arena: make([]byte, 0, chunkEntries*10), keys: make([]span, 0, chunkEntries),
			slots: make([]slot, 0, chunkEntries), idOf: make([]uint32, 0, chunkEntries)}
	}
	return sc
}

func (sc *indexScan) run(store *snapshots.Store, target string) {
	c := <-sc.free
	scanned, err := store.ScanIndexFrom(target, func(key []byte, e *snapshots.IndexEntry) error {
		if sc.ids == nil && !bytes.Equal(e.ID, key) {
			sc.ids = make([]byte, 0, sc.idsCap) // the target's first id that is not its key
		}
		s, id, err := newSlot(&sc.ids, key, e.ID, e.Hash, e.Disabled, e.Deprovisioned)
		if err != nil {
			return fmt.Errorf("target %s: %w", target, err)
		}
		c.keys = append(c.keys, keep(&c.arena, key))
		c.slots, c.idOf = append(c.slots, s), append(c.idOf, id)
		if len(c.keys) == chunkEntries {
			sc.full <- c
			c = <-sc.free
		}
		return nil
	})
	if len(c.keys) > 0 {
		sc.full <- c
	}
	sc.err, sc.scanned = err, scanned
	close(sc.full)
}

// head is the scan's least key not yet merged, or nil at its end.
func (sc *indexScan) head() []byte {
	if sc.cur != nil && sc.at == len(sc.cur.keys) {
		c := sc.cur
		c.arena, c.keys, c.slots, c.idOf = c.arena[:0], c.keys[:0], c.slots[:0], c.idOf[:0]
		sc.free <- c
		sc.cur = nil
	}
	if sc.cur == nil {
		c, ok := <-sc.full
		if !ok {
			return nil
		}
		sc.cur, sc.at = c, 0
	}
	s := sc.cur.keys[sc.at]
	return sc.cur.arena[s.from:s.to]
}

// merge numbers the union of the scans' keys, in key order, and lays out
// each key's slots side by side, one per scan, with each scan's id
// offsets (its ids are the scan's, set once it has ended). It reads every
// scan to its end, even one that failed.
func merge(scans []*indexScan, size int) *mergedIndex {
	keys := newSortedKeyTable(size)
	rows := make([]slot, 0, size*len(scans))
	idOf := make([]idOffsets, len(scans))
	for {
		var least []byte
		found := false
		for _, sc := range scans {
			if k := sc.head(); k != nil && (!found || bytes.Compare(k, least) < 0) {
				least, found = k, true
			}
		}
		if !found {
			return &mergedIndex{keys: keys, rows: rows, ids: make([][]byte, len(scans)), idOf: idOf}
		}
		n := keys.len()
		keys.add(least)
		for i, sc := range scans {
			if k := sc.head(); k != nil && bytes.Equal(k, least) {
				rows = append(rows, sc.cur.slots[sc.at])
				idOf[i].add(n, sc.cur.idOf[sc.at], size)
				sc.at++
			} else {
				rows = append(rows, slot{})
				idOf[i].add(n, idIsKey, size)
			}
		}
	}
}

func (x *stateIndex) at(n int32) *slot { return &x.rows[int(n)*x.stride+x.col] }

// find returns key's number and slot. The caller holds mu for reading,
// or the index is complete and no longer changes.
func (x *stateIndex) find(key string) (int32, *slot, bool) {
	n, ok := x.keys.find(key)
	if !ok {
		return 0, nil, false
	}
	return n, x.at(n), true
}

// entry is key's entry, from its number n and its slot s.
func (x *stateIndex) entry(n int32, s *slot, key string) indexEntry {
	bits := s.bits()
	ie := indexEntry{hash: bits &^ slotFlags, id: keptID{text: key}, disabled: bits&slotDisabled != 0,
		deprovisioned: bits&slotDeprovisioned != 0}
	if id := x.idOf.of(n); id != idIsKey {
		ie.id = idAt(x.ids, id)
	}
	return ie
}

// load looks up the keys a delta index does not know yet, in one read
// transaction. Workers call it for a batch before evaluating its rows.
func (x *stateIndex) load(keys []string) error {
	if x.all {
		return nil
	}
	x.mu.RLock()
	var missing []string
	for _, k := range keys {
		if _, _, ok := x.find(k); !ok {
			missing = append(missing, k)
		}
	}
	x.mu.RUnlock()
	if len(missing) == 0 {
		return nil
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.store.Lookup(x.target, missing, func(en snapshots.Entry, ok bool) error {
		if _, _, known := x.find(en.Key); known {
			return nil // another worker loaded it meanwhile
		}
		n := x.keys.len()
		x.keys.add([]byte(en.Key))
		s, id := slot{}, uint32(idIsKey)
		if ok {
			var err error
			if s, id, err = newSlot(&x.ids, []byte(en.Key), []byte(en.ID), en.Hash, en.Disabled, en.Deprovisioned); err != nil {
				return fmt.Errorf("target %s: %w", x.target, err)
			}
		}
		x.rows = append(x.rows, s)
		x.idOf.add(n, id, 0)
		return nil
	})
}

// get reports key's entry. Keys a delta has not loaded are looked up.
func (x *stateIndex) get(key string) (indexEntry, bool, error) {
	if x.all {
		n, s, ok := x.find(key) // read-only once loaded: no lock
		if !ok || !s.present() {
			return indexEntry{}, false, nil
		}
		return x.entry(n, s, key), true, nil
	}
	if err := x.load([]string{key}); err != nil {
		return indexEntry{}, false, err
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	n, s, ok := x.find(key)
	if !ok || !s.present() {
		return indexEntry{}, false, nil
	}
	return x.entry(n, s, key), true, nil
}

// lookup is get for a record whose position in a full read's shared
// table is already known: no probe.
func (x *stateIndex) lookup(key string, p position) (indexEntry, bool, error) {
	if !x.all {
		return x.get(key)
	}
	if !p.known {
		return indexEntry{}, false, nil
	}
	s := x.at(p.n)
	if !s.present() {
		return indexEntry{}, false, nil
	}
	return x.entry(p.n, s, key), true, nil
}

// matches reports whether a full read's record at p is managed with
// fingerprint h (see sameFingerprint): the check that passes over almost
// every record of a steady run, made on the slot without building its
// entry. It is only a shortcut: false sends the caller to lookup.
func (x *stateIndex) matches(p position, h uint64) bool {
	if !x.all || !p.known {
		return false
	}
	s := x.at(p.n)
	return s.present() && sameFingerprint(s.bits()&^slotFlags, h)
}

// unseen calls fn for every managed entry whose key a full read did not
// see (seen numbers keys by the same table), in key order. It reads the
// seen lines first: nearly every key was seen, and its slot and key are
// then never read. Checking each entry instead read the whole slot table
// once a target: deprovisionAbsent was 3.6-4.0% of the CPU of the bench's
// 1M steady plan (perf, two runs), and is 0.7-1.3% this way.
func (x *stateIndex) unseen(seen *seenSet, fn func(key string, ie indexEntry)) {
	for n := range int32(x.keys.len()) {
		if seen.seenAt(n) {
			continue
		}
		if s := x.at(n); s.present() {
			// The key is a copy: the op that deprovisions it keeps it,
			// and the table may be a mapped file, unmapped once the plan
			// is made (indexblob.go).
			key := strings.Clone(x.keys.key(n))
			fn(key, x.entry(n, s, key))
		}
	}
}

// each calls fn for every managed entry, in key order; only for a full
// index.
func (x *stateIndex) each(fn func(key string, p position, ie indexEntry)) {
	for n := range int32(x.keys.len()) {
		if s := x.at(n); s.present() {
			key := x.keys.key(n)
			fn(key, position{n, true}, x.entry(n, s, key))
		}
	}
}
