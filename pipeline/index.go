package pipeline

import (
	"errors"
	"sync"

	"github.com/idsync/idsync/pipeline/diff"
	"github.com/idsync/idsync/snapshots"
)

// indexEntry is what planning keeps in memory per managed object: enough to
// skip unchanged records, deprovision absent ones and expire grace periods
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
type stateIndex struct {
	store  *snapshots.Store
	target string
	// all is true when entries holds every entry of the target.
	all bool
	mu  sync.RWMutex // guards entries while lookups fill it
	// entries maps keys to entries; a looked-up key that is not managed
	// maps to absent (present false), so it is read once.
	entries map[string]cachedEntry
}

type cachedEntry struct {
	indexEntry
	present bool
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

// newIndex makes a target's index; all loads every entry, size of them.
func newIndex(store *snapshots.Store, target string, all bool, size int) (*stateIndex, error) {
	x := &stateIndex{store: store, target: target, all: all, entries: map[string]cachedEntry{}}
	if !all {
		return x, nil
	}
	x.entries = make(map[string]cachedEntry, size)
	err := store.Scan(target, false, func(en snapshots.Entry) error {
		x.entries[en.Key] = cachedEntry{indexEntry: fromEntry(en), present: true}
		return nil
	})
	return x, err
}

func fromEntry(en snapshots.Entry) indexEntry {
	return indexEntry{hash: en.Hash, id: en.ID, disabled: en.Disabled, deprovisioned: en.Deprovisioned, since: en.Since}
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
		if _, ok := x.entries[k]; !ok {
			missing = append(missing, k)
		}
	}
	x.mu.RUnlock()
	if len(missing) == 0 {
		return nil
	}
	found := make([]cachedEntry, 0, len(missing))
	err := x.store.Lookup(x.target, missing, func(en snapshots.Entry, ok bool) error {
		found = append(found, cachedEntry{indexEntry: fromEntry(en), present: ok})
		return nil
	})
	if err != nil {
		return err
	}
	x.mu.Lock()
	for i, k := range missing {
		x.entries[k] = found[i]
	}
	x.mu.Unlock()
	return nil
}

// get reports key's entry. Keys a delta has not loaded are looked up.
func (x *stateIndex) get(key string) (indexEntry, bool, error) {
	if x.all {
		ce := x.entries[key] // read-only once loaded: no lock
		return ce.indexEntry, ce.present, nil
	}
	if err := x.load([]string{key}); err != nil {
		return indexEntry{}, false, err
	}
	x.mu.RLock()
	ce := x.entries[key]
	x.mu.RUnlock()
	return ce.indexEntry, ce.present, nil
}

// each calls fn for every managed entry; only for a full index.
func (x *stateIndex) each(fn func(key string, ie indexEntry)) {
	for k, ce := range x.entries {
		if ce.present {
			fn(k, ce.indexEntry)
		}
	}
}
