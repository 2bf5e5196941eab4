package pipeline

import (
	"errors"
	"hash/maphash"
	"sync"
	"unsafe"

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
// plan. A full read needs every entry (to find the absent ones), so it
// loads them all in one in-order scan. A delta read needs only the keys it
// reads, so it looks those up batch by batch: a delta of 10k records costs
// 10k lookups, not a scan of millions of entries.
//
// It holds millions of entries, so it is laid out for that: keys and ids
// sit back to back in one byte arena, entries in one slice, and a map from
// a 64-bit hash of the key finds the slot. None of it holds pointers, so
// the garbage collector never scans it, and loading allocates nothing per
// entry. A key whose hash another key already took (about one in 10^7 at
// 10M keys) goes in a small spill map.
type stateIndex struct {
	store  *snapshots.Store
	target string
	// all is true when the index holds every entry of the target.
	all bool
	mu  sync.RWMutex // guards the fields below while lookups fill them
	// sum hashes keys: maphash with the index's own seed (tests collide
	// keys on purpose by replacing it).
	sum   func(key string) uint64
	slots map[uint64]int32
	spill map[string]int32
	arena []byte
	rows  []slot
}

// slot is one key's entry. A key looked up and not managed has present
// false, so it is read from the store once.
type slot struct {
	key, id       span
	hash          uint64
	since         int64
	present       bool
	disabled      bool
	deprovisioned bool
}

// span is a string's place in the arena.
type span struct{ from, to uint32 }

func newIndex(store *snapshots.Store, target string, all bool, size int) (*stateIndex, error) {
	seed := maphash.MakeSeed()
	x := &stateIndex{store: store, target: target, all: all, spill: map[string]int32{},
		sum: func(key string) uint64 { return maphash.String(seed, key) }}
	if !all {
		x.slots = map[uint64]int32{}
		return x, nil
	}
	x.slots = make(map[uint64]int32, size)
	x.rows = make([]slot, 0, size)
	x.arena = make([]byte, 0, size*16)
	err := store.ScanIndex(target, func(key []byte, e *snapshots.IndexEntry) error {
		x.add(key, e)
		return nil
	})
	return x, err
}

// loadIndexes gives each target its index. Full indexes are loaded side
// by side: each is one long scan, and a source's targets are independent.
func (e *Engine) loadIndexes(runs []*targetRun, full bool) error {
	errs := make([]error, len(runs))
	var wg sync.WaitGroup
	for i, tr := range runs {
		wg.Go(func() { tr.index, errs[i] = newIndex(e.store, tr.t.cfg.Name, full, tr.out.Managed) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// add appends a slot for key; e is nil for a key that is not managed. The
// caller holds mu (or is the only goroutine).
func (x *stateIndex) add(key []byte, e *snapshots.IndexEntry) {
	s := slot{key: x.keep(key)}
	if e != nil {
		s.id, s.hash, s.since, s.present = x.keep(e.ID), e.Hash, e.Since, true
		s.disabled, s.deprovisioned = e.Disabled, e.Deprovisioned
	}
	n := int32(len(x.rows))
	x.rows = append(x.rows, s)
	h := x.sum(x.str(s.key))
	if _, taken := x.slots[h]; taken {
		x.spill[string(key)] = n
		return
	}
	x.slots[h] = n
}

func (x *stateIndex) keep(b []byte) span {
	from := uint32(len(x.arena))
	x.arena = append(x.arena, b...)
	return span{from, uint32(len(x.arena))}
}

// str is a span as a string. The arena only grows, and bytes once written
// never change (a larger arena is a copy), so the string stays valid.
func (x *stateIndex) str(s span) string {
	if s.to == s.from {
		return ""
	}
	return unsafe.String(&x.arena[s.from], int(s.to-s.from))
}

// find returns key's slot. The caller holds mu for reading, or the index
// is complete and no longer changes.
func (x *stateIndex) find(key string) (*slot, bool) {
	if n, ok := x.slots[x.sum(key)]; ok && x.str(x.rows[n].key) == key {
		return &x.rows[n], true
	}
	if n, ok := x.spill[key]; ok {
		return &x.rows[n], true
	}
	return nil, false
}

func (x *stateIndex) entry(s *slot) indexEntry {
	return indexEntry{hash: s.hash, id: x.str(s.id), disabled: s.disabled, deprovisioned: s.deprovisioned, since: s.since}
}

// load looks up the keys not known yet, in one read transaction. Workers
// call it for a batch before evaluating its rows.
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
		if !ok {
			x.add([]byte(en.Key), nil)
			return nil
		}
		x.add([]byte(en.Key), &snapshots.IndexEntry{ID: []byte(en.ID), Disabled: en.Disabled,
			Deprovisioned: en.Deprovisioned, Hash: en.Hash, Since: en.Since})
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

// each calls fn for every managed entry, in key order; only for a full
// index.
func (x *stateIndex) each(fn func(key string, ie indexEntry)) {
	for i := range x.rows {
		if s := &x.rows[i]; s.present {
			fn(x.str(s.key), x.entry(s))
		}
	}
}
