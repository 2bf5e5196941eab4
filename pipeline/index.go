package pipeline

import (
	"bytes"
	"errors"
	"sync"

	"github.com/idsync/idsync/pipeline/diff"
	"github.com/idsync/idsync/snapshots"
)

// indexEntry is what planning keeps per managed object: enough to skip
// unchanged records, deprovision absent ones and expire grace periods
// without reading their attributes.
type indexEntry struct {
	hash          uint64
	id            string
	disabled      bool
	deprovisioned bool
	since         int64
}

func (ie indexEntry) stored() *diff.Stored {
	return &diff.Stored{ID: ie.id, Disabled: ie.disabled, Deprovisioned: ie.deprovisioned}
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
	ids         []byte // the arena of the slots' ids
}

// slot is one key's entry in one target. A key looked up and not managed
// (or, in a shared table, managed by another target only) has present
// false.
type slot struct {
	id            span
	hash          uint64
	since         int64
	present       bool
	disabled      bool
	deprovisioned bool
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
	// Each target's entries are scanned in key order, side by side, then
	// merged into one table.
	scans := make([]*indexScan, len(runs))
	errs := make([]error, len(runs))
	var wg sync.WaitGroup
	size := 0
	for i, tr := range runs {
		size = max(size, tr.out.Managed)
		wg.Go(func() { scans[i], errs[i] = scanIndex(e.store, tr.t.cfg.Name, tr.out.Managed) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	keys, rows := merge(scans, size)
	sr.keys = keys
	for i, tr := range runs {
		tr.index = &stateIndex{store: e.store, target: tr.t.cfg.Name, all: true, keys: keys, rows: rows,
			stride: len(runs), col: i, ids: scans[i].ids}
	}
	return nil
}

// indexScan is one target's entries in key order.
type indexScan struct {
	arena []byte // keys
	keys  []span
	slots []slot
	ids   []byte
}

func scanIndex(store *snapshots.Store, target string, size int) (*indexScan, error) {
	sc := &indexScan{arena: make([]byte, 0, size*10), keys: make([]span, 0, size), slots: make([]slot, 0, size),
		ids: make([]byte, 0, size*8)}
	err := store.ScanIndex(target, func(key []byte, e *snapshots.IndexEntry) error {
		sc.keys = append(sc.keys, keep(&sc.arena, key))
		sc.slots = append(sc.slots, slot{id: keep(&sc.ids, e.ID), hash: e.Hash, since: e.Since, present: true,
			disabled: e.Disabled, deprovisioned: e.Deprovisioned})
		return nil
	})
	return sc, err
}

// merge numbers the union of the scans' keys, in key order, and lays out
// each key's slots side by side, one per scan.
func merge(scans []*indexScan, size int) (*keyTable, []slot) {
	keys := newSortedKeyTable(size)
	rows := make([]slot, 0, size*len(scans))
	at := make([]int, len(scans))
	head := func(i int) []byte {
		sc := scans[i]
		if at[i] == len(sc.keys) {
			return nil
		}
		s := sc.keys[at[i]]
		return sc.arena[s.from:s.to]
	}
	for {
		var least []byte
		found := false
		for i := range scans {
			if k := head(i); k != nil && (!found || bytes.Compare(k, least) < 0) {
				least, found = k, true
			}
		}
		if !found {
			return keys, rows
		}
		keys.add(least)
		for i, sc := range scans {
			if k := head(i); k != nil && bytes.Equal(k, least) {
				rows = append(rows, sc.slots[at[i]])
				at[i]++
			} else {
				rows = append(rows, slot{})
			}
		}
	}
}

func (x *stateIndex) at(n int32) *slot { return &x.rows[int(n)*x.stride+x.col] }

// find returns key's slot. The caller holds mu for reading, or the index
// is complete and no longer changes.
func (x *stateIndex) find(key string) (*slot, bool) {
	n, ok := x.keys.find(key)
	if !ok {
		return nil, false
	}
	return x.at(n), true
}

func (x *stateIndex) entry(s *slot) indexEntry {
	return indexEntry{hash: s.hash, id: str(x.ids, s.id), disabled: s.disabled, deprovisioned: s.deprovisioned, since: s.since}
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
		if _, ok := x.find(k); !ok {
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
		if _, known := x.find(en.Key); known {
			return nil // another worker loaded it meanwhile
		}
		x.keys.add([]byte(en.Key))
		s := slot{}
		if ok {
			s = slot{id: keep(&x.ids, []byte(en.ID)), hash: en.Hash, since: en.Since, present: true,
				disabled: en.Disabled, deprovisioned: en.Deprovisioned}
		}
		x.rows = append(x.rows, s)
		return nil
	})
}

// get reports key's entry. Keys a delta has not loaded are looked up.
func (x *stateIndex) get(key string) (indexEntry, bool, error) {
	if x.all {
		s, ok := x.find(key) // read-only once loaded: no lock
		if !ok || !s.present {
			return indexEntry{}, false, nil
		}
		return x.entry(s), true, nil
	}
	if err := x.load([]string{key}); err != nil {
		return indexEntry{}, false, err
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	s, ok := x.find(key)
	if !ok || !s.present {
		return indexEntry{}, false, nil
	}
	return x.entry(s), true, nil
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
	if !s.present {
		return indexEntry{}, false, nil
	}
	return x.entry(s), true, nil
}

// each calls fn for every managed entry, in key order; only for a full
// index.
func (x *stateIndex) each(fn func(key string, p position, ie indexEntry)) {
	for n := range int32(x.keys.len()) {
		if s := x.at(n); s.present {
			fn(x.keys.key(n), position{n, true}, x.entry(s))
		}
	}
}
