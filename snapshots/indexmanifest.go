package snapshots

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	badger "github.com/dgraph-io/badger/v4"
)

// manifestName is the cache's manifest in its directory.
const manifestName = "manifest.json"

type cacheManifest struct {
	Format  uint64
	Files   uint64 // the files' own format (indexFiles)
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
	c.tables = map[string]*indexTable{}
	if dir == "" {
		return nil
	}
	c.dir = filepath.Join(dir, "index-cache")
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return err
	}
	var m cacheManifest
	fresh := false
	b, err := os.ReadFile(filepath.Join(c.dir, manifestName))
	if err == nil && json.Unmarshal(b, &m) == nil && m.Format == FormatVersion && m.Files == indexFiles {
		err = db.View(func(txn *badger.Txn) error {
			if txn.ReadTs() != m.Stamp {
				return nil
			}
			for name, t := range m.Targets {
				serial, count, err := targetStamp(txn, name)
				if err != nil {
					return err
				}
				if serial != t.Serial || count != t.Count {
					continue
				}
				if t.Gen == 0 {
					// Written before files had generations: they get one,
					// which the manifest then has to keep.
					t.Gen, fresh = newGen(), true
				}
				c.targets[name] = t.cachedTarget
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
	c.saved = len(c.targets) == len(m.Targets) && !fresh
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
	used, gens := map[string]bool{}, map[uint64]bool{}
	for _, t := range c.targets {
		used[t.Base], used[t.Overlay], gens[t.Gen] = true, true, true
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
		if strings.HasPrefix(f.Name(), derivedPrefix) && derivedCurrent(filepath.Join(c.dir, f.Name()), gens) {
			continue
		}
		if f.Name() != manifestName && !used[f.Name()] {
			if err := os.Remove(filepath.Join(c.dir, f.Name())); err != nil {
				return err
			}
		}
	}
	return nil
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
	m := cacheManifest{Format: FormatVersion, Files: indexFiles, Targets: map[string]manifestTarget{}}
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
