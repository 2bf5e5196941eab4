package snapshots

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	badger "github.com/dgraph-io/badger/v4"
	"golang.org/x/sys/unix"
)

// TrimMapped drops the process's mappings of the store's table and
// value-log pages once the process's mapped file pages have grown
// trimBytes since the last trim (see mapped.go). The pages stay in the
// page cache, so a read that comes back to one takes a minor fault. It
// does nothing unless the store was opened with NoCompactions. Checking
// costs one read of /proc/self/statm, a few microseconds: callers call
// it once a batch.
func (s *Store) TrimMapped() {
	t := &s.trim
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.on {
		return
	}
	if mapped := mappedFileBytes(); mapped < 0 || mapped-t.last < trimBytes {
		return
	}
	dropTables(t.dir, t.keep)
	t.last = mappedFileBytes()
}

// start readies trimming for a store on dir, holding tables, when opts
// allow it.
func (t *mappedTrim) start(dir string, opts Options, tables []badger.TableInfo) {
	if !opts.NoCompactions || opts.InMemory {
		return
	}
	abs, err := filepath.Abs(dir)
	if err == nil {
		abs, err = filepath.EvalSymlinks(abs)
	}
	if err != nil {
		return // trimming is an economy, not a duty
	}
	// Opening read every table's index (213 MB of a 10M store, of which
	// the block offsets are kept: mappedkeep.go) and the newest value-log
	// file (198 MB after a 1M-create apply).
	t.keep = tableKeeps(abs, tables)
	dropTables(abs, t.keep)
	t.on, t.dir, t.last = true, abs, mappedFileBytes()
}

// mappedFileBytes is the process's resident shared pages in bytes, which
// are its mapped file pages (and shared memory, which idsync has none
// of), or -1 if unknown. statm's third field counts them.
func mappedFileBytes() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return -1
	}
	pages, err := strconv.ParseInt(f[2], 10, 64)
	if err != nil {
		return -1
	}
	return pages * int64(os.Getpagesize())
}

// dropTables drops the shared mappings of dir's table and value-log
// files (see droppable), but for the parts of tables keep names, and
// returns how many mappings it dropped from.
func dropTables(dir string, keep map[string][]span) int {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return 0
	}
	defer f.Close() //nolint:errcheck // read only: a close error loses nothing
	var all []stateMapping
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m, ok := tableMapping(sc.Bytes(), dir); ok {
			all = append(all, m)
		}
	}
	n := 0
	for _, m := range droppable(all) {
		parts := []span{{0, int64(m.hi - m.lo)}}
		if k, ok := keep[m.name]; ok && m.offset == 0 {
			parts = dropped(int64(m.hi-m.lo), k)
		}
		ok := false
		for _, p := range parts {
			_, _, e := unix.Syscall(unix.SYS_MADVISE, m.lo+uintptr(p.from), uintptr(p.to-p.from), unix.MADV_DONTNEED)
			ok = ok || e == 0
		}
		if ok {
			n++
		}
	}
	return n
}

// stateMapping is a mapped range of one of the store's files.
type stateMapping struct {
	lo, hi uintptr
	offset int64  // the file offset mapped at lo
	name   string // the file's name in the state directory
}

// droppable is all of mappings but the newest value-log file's: Badger
// writes there, and a write that fills it truncates and maps it again,
// which a trim must never race. (A plan writes nothing, but the recovery
// of a crashed apply's journal does.)
func droppable(mappings []stateMapping) []stateMapping {
	newest := -1
	for _, m := range mappings {
		if n, ok := vlogNumber(m.name); ok && n > newest {
			newest = n
		}
	}
	var out []stateMapping
	for _, m := range mappings {
		if n, ok := vlogNumber(m.name); !ok || n != newest {
			out = append(out, m)
		}
	}
	return out
}

// vlogNumber is a value-log file's number: Badger names them 000001.vlog
// and on, wider past a million.
func vlogNumber(name string) (int, bool) {
	digits, ok := strings.CutSuffix(name, ".vlog")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(digits)
	return n, err == nil
}

// tableMapping parses one line of /proc/self/maps ("lo-hi perms offset
// dev inode path") and reports the range when it is a shared mapping of
// a table or value-log file directly in dir. A private mapping is never
// one: dropping its pages would lose what the process wrote there. The
// memtables' files are left alone: Badger flushes and unmaps them in the
// background, compactions or not.
func tableMapping(line []byte, dir string) (stateMapping, bool) {
	f := bytes.Fields(line)
	if len(f) < 6 || len(f[1]) != 4 || f[1][3] != 's' {
		return stateMapping{}, false
	}
	// The path is the rest of the line: it may hold spaces.
	at := bytes.IndexByte(line, '/')
	if at < 0 {
		return stateMapping{}, false
	}
	path := string(line[at:])
	if ext := filepath.Ext(path); filepath.Dir(path) != dir || ext != ".sst" && ext != ".vlog" {
		return stateMapping{}, false
	}
	a, b, found := bytes.Cut(f[0], []byte("-"))
	if !found {
		return stateMapping{}, false
	}
	l, err1 := strconv.ParseUint(string(a), 16, 64)
	h, err2 := strconv.ParseUint(string(b), 16, 64)
	off, err3 := strconv.ParseInt(string(f[2]), 16, 64)
	if err1 != nil || err2 != nil || err3 != nil || h <= l {
		return stateMapping{}, false
	}
	return stateMapping{lo: uintptr(l), hi: uintptr(h), offset: off, name: filepath.Base(path)}, true
}
