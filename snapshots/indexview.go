package snapshots

// filesView is one lookup's hold on a target's files: its base, and the
// overlay over it when there is one. While a view holds them, their
// handles stay open even if a scan replaces the files.
type filesView struct {
	c       *indexCache
	held    []*indexTable
	base    *tableReader
	overlay *tableReader // nil when the target has none
}

// view takes target's files for a lookup of keys, and marks the keys
// committed since the files were made (dirty), which only Badger has
// right. It is nil when the target has no files, when a scan is bringing
// them up to date (it has taken their dirty keys), or when every key is
// dirty.
func (c *indexCache) view(target string, keys []string) (v *filesView, dirty []bool) {
	if c.dir == "" {
		return nil, nil
	}
	c.mu.Lock()
	t, has := c.targets[target]
	if !has || c.busy[target] {
		c.mu.Unlock()
		return nil, nil
	}
	clean := len(keys)
	if d := c.dirty[target]; len(d) > 0 {
		dirty = make([]bool, len(keys))
		for i, k := range keys {
			if _, ok := d[k]; ok {
				dirty[i] = true
				clean--
			}
		}
	}
	if clean == 0 {
		c.mu.Unlock()
		return nil, nil
	}
	v = &filesView{c: c, held: []*indexTable{c.table(t.Base)}}
	if t.Overlay != "" {
		v.held = append(v.held, c.table(t.Overlay))
	}
	c.mu.Unlock()
	for _, tb := range v.held {
		if tb.load() != nil {
			v.release()
			c.forget(target)() // the next full read makes them anew
			return nil, nil    // Badger has them all
		}
	}
	v.base = newTableReader(v.held[0])
	if len(v.held) > 1 {
		v.overlay = newTableReader(v.held[1])
	}
	return v, dirty
}

// table is file's table, with one more reference. The caller holds mu.
func (c *indexCache) table(file string) *indexTable {
	tb := c.tables[file]
	if tb == nil {
		tb = &indexTable{path: c.path(file)}
		c.tables[file] = tb
	}
	tb.refs++
	return tb
}

// find returns key's entry as the files have it, and whether they have
// one. A deleted key's empty record in the overlay hides the base's.
func (v *filesView) find(key string) (entry []byte, found bool, err error) {
	if v.overlay != nil {
		e, ok, err := v.overlay.find(key)
		if err != nil || ok {
			return e, ok && len(e) > 0, err
		}
	}
	return v.base.find(key)
}

// release lets go of the files.
func (v *filesView) release() {
	for _, r := range []*tableReader{v.base, v.overlay} {
		if r != nil {
			r.done()
		}
	}
	v.c.mu.Lock()
	defer v.c.mu.Unlock()
	for _, tb := range v.held {
		tb.refs--
		if tb.gone && tb.refs == 0 {
			tb.close()
		}
	}
}

// forgetTable drops file's table, closing it once no lookup holds it.
// The caller holds mu.
func (c *indexCache) forgetTable(file string) {
	tb := c.tables[file]
	if tb == nil {
		return
	}
	delete(c.tables, file)
	tb.gone = true
	if tb.refs == 0 {
		tb.close()
	}
}

// closeTables closes every table, when the store closes.
func (c *indexCache) closeTables() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for file := range c.tables {
		c.forgetTable(file)
	}
}

// close closes the table's file, if load opened it. Only once no lookup
// holds the table, so no load is under way.
func (t *indexTable) close() {
	if t.unmap != nil {
		t.unmap()
	}
	if t.f != nil {
		_ = t.f.Close()
	}
}

// readable says whether t's files open and hold a sound block list.
func (c *indexCache) readable(t cachedTarget) bool {
	c.mu.Lock()
	v := &filesView{c: c, held: []*indexTable{c.table(t.Base)}}
	if t.Overlay != "" {
		v.held = append(v.held, c.table(t.Overlay))
	}
	c.mu.Unlock()
	defer v.release()
	for _, tb := range v.held {
		if tb.load() != nil {
			return false
		}
	}
	return true
}

// discard deletes the files of t that were not in old, which a refresh
// made and no one will use.
func (c *indexCache) discard(t, old cachedTarget) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.removeFiles(t, old)
}
