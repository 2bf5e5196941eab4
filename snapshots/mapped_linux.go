package snapshots

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// TrimMapped drops the process's mappings of the store's table and value-log pages once
// the process's mapped file pages have grown trimBytes since the last
// trim (see mapped.go). The pages stay in the page cache, so a read that
// comes back to one takes a minor fault. It does nothing unless the store
// was opened with NoCompactions. Checking costs one read of
// /proc/self/statm, a few microseconds: callers call it once a batch.
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
	dropTables(t.dir)
	t.last = mappedFileBytes()
}

// start readies trimming for a store on dir, when opts allow it.
func (t *mappedTrim) start(dir string, opts Options) {
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
	// Opening read every table's index (270 MB of a 10M store) and the
	// newest value-log file (198 MB after a 1M-create apply).
	dropTables(abs)
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

// dropTables drops every shared mapping of a table or value-log file in
// dir, and returns how many it dropped.
func dropTables(dir string) int {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return 0
	}
	defer f.Close() //nolint:errcheck // read only: a close error loses nothing
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lo, hi, ok := tableMapping(sc.Bytes(), dir)
		if !ok {
			continue
		}
		if _, _, e := unix.Syscall(unix.SYS_MADVISE, lo, hi-lo, unix.MADV_DONTNEED); e == 0 {
			n++
		}
	}
	return n
}

// tableMapping parses one line of /proc/self/maps ("lo-hi perms offset
// dev inode path") and reports the range when it is a shared mapping of
// a table or value-log file directly in dir. A private mapping is never
// one: dropping its pages would lose what the process wrote there. The
// memtables' files are left alone: Badger flushes and unmaps them in the
// background, compactions or not.
func tableMapping(line []byte, dir string) (lo, hi uintptr, ok bool) {
	f := bytes.Fields(line)
	if len(f) < 6 || len(f[1]) != 4 || f[1][3] != 's' {
		return 0, 0, false
	}
	// The path is the rest of the line: it may hold spaces.
	at := bytes.IndexByte(line, '/')
	if at < 0 {
		return 0, 0, false
	}
	path := string(line[at:])
	if ext := filepath.Ext(path); filepath.Dir(path) != dir || ext != ".sst" && ext != ".vlog" {
		return 0, 0, false
	}
	a, b, found := bytes.Cut(f[0], []byte("-"))
	if !found {
		return 0, 0, false
	}
	l, err1 := strconv.ParseUint(string(a), 16, 64)
	h, err2 := strconv.ParseUint(string(b), 16, 64)
	if err1 != nil || err2 != nil || h <= l {
		return 0, 0, false
	}
	return uintptr(l), uintptr(h), true
}
