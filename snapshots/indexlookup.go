package snapshots

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"sort"
	"sync"
)

// indexTable reads single records of an index file: it holds the file's
// block list and an open handle, and reads a record's block with one
// pread. A delta plan looks up each changed record's entry in every
// target, and Badger's point read touches pages of several tables' maps
// (its bloom filters, its block index, a block), each a page fault; read
// this way, a lookup faults no page in.
//
// A table is shared by every lookup of its file. Its fields below once
// are set by load and read-only after; refs and gone are guarded by the
// cache's mu.
type indexTable struct {
	path string
	once sync.Once
	err  error
	f    *os.File
	s2   bool  // its blocks are compressed (fileS2)
	end  int64 // offset of the file's end: past the last block
	// list is the block list, as the file has it, mapped: at 10M
	// identities the details' file alone lists 1.3M blocks, and a delta
	// plan read 40 MB of lists and their parsed refs into fresh memory,
	// which this host backs at about 16 µs a page. unmap releases it.
	list  []byte
	unmap func()
	// every holds every blockStride-th block: a lookup searches these,
	// then walks the list from the one before its key (blockAt).
	every []blockRef
	refs  int  // lookups using the table
	gone  bool // its file was dropped: close it once refs is 0
}

// blockStride is how many blocks a lookup may walk in the list past the
// last of every it searched. Tests lower it.
var blockStride = 32

// load reads and checks the file's footer and block list.
func (t *indexTable) load() error {
	t.once.Do(func() { t.err = t.read() })
	return t.err
}

func (t *indexTable) read() error {
	f, err := os.Open(t.path)
	if err != nil {
		return err
	}
	t.f = f
	bad := func(what string) error { return badIndexFile(t.path, what) }
	st, err := f.Stat()
	if err != nil {
		return err
	}
	size := st.Size()
	head := make([]byte, headerSize)
	if size < int64(headerSize+1+footerSize) {
		return bad("too short")
	}
	if _, err := f.ReadAt(head, 0); err != nil || !bytes.Equal(head[:len(indexMagic)], indexMagic) || head[len(indexMagic)]&^fileS2 != 0 {
		return bad("no index file header")
	}
	t.s2 = head[len(indexMagic)] == fileS2
	foot := make([]byte, footerSize)
	if _, err := f.ReadAt(foot, size-footerSize); err != nil {
		return err
	}
	ft, err := parseFooter(foot)
	if err != nil {
		return bad(err.Error())
	}
	listAt := size - footerSize - int64(ft.blocks)
	if ft.blocks > 1<<30 || listAt != int64(ft.end)+1+int64(uvarintLen(ft.blocks)) {
		return bad("block list out of place")
	}
	t.end = int64(ft.end)
	if ft.blocks == 0 {
		return nil // no blocks: no key is in the file
	}
	if t.list, t.unmap, err = mapRange(f, listAt, int(ft.blocks)); err != nil {
		return err
	}
	if crc32.Checksum(t.list, crcTable) != ft.blocksCRC {
		return bad("block list checksum")
	}
	n, err := walkBlockList(t.list, ft.end, nil)
	if err != nil {
		return bad(err.Error())
	}
	t.every = make([]blockRef, 0, (n+blockStride-1)/blockStride)
	i := 0
	_, err = walkBlockList(t.list, ft.end, func(b blockRef) {
		if i%blockStride == 0 {
			t.every = append(t.every, b)
		}
		i++
	})
	return err
}

// blockRef is a block's place in the file, where its first key is in
// the block list, and where the next block's entry starts there.
type blockRef struct {
	keyFrom, keyTo, next uint32
	off                  int64
}

// walkBlockList checks a block list and calls fn (when not nil) for each
// block, in order. Offsets must ascend and stay below end.
func walkBlockList(list []byte, end uint64, fn func(blockRef)) (blocks int, err error) {
	last := int64(-1)
	for at := 0; at < len(list); blocks++ {
		b, ok := blockEntry(list, at)
		if !ok {
			return 0, errors.New("block list cut short")
		}
		if uint64(b.off) >= end || b.off <= last {
			return 0, errors.New("block offset")
		}
		at, last = int(b.next), b.off
		if fn != nil {
			fn(b)
		}
	}
	return blocks, nil
}

// blockEntry decodes the block list's entry at at.
func blockEntry(list []byte, at int) (blockRef, bool) {
	klen, n := binary.Uvarint(list[at:])
	if n <= 0 || uint64(len(list)-at-n) < klen {
		return blockRef{}, false
	}
	b := blockRef{keyFrom: uint32(at + n), keyTo: uint32(at + n + int(klen))}
	off, m := binary.Uvarint(list[b.keyTo:])
	if m <= 0 || off > 1<<62 {
		return blockRef{}, false
	}
	b.off, b.next = int64(off), b.keyTo+uint32(m)
	return b, true
}

func uvarintLen(v uint64) int { return len(binary.AppendUvarint(nil, v)) }

// startsAfter says whether block b's first key comes after key. (The
// conversion in a comparison copies nothing.)
func (t *indexTable) startsAfter(b blockRef, key string) bool {
	return string(t.list[b.keyFrom:b.keyTo]) > key
}

// blockAt is the last block whose first key is at most key, and where the
// block after it starts (the file's end for the last). ok is false when
// key comes before every block.
func (t *indexTable) blockAt(key string) (b blockRef, next int64, ok bool) {
	i := sort.Search(len(t.every), func(i int) bool { return t.startsAfter(t.every[i], key) }) - 1
	if i < 0 {
		return blockRef{}, 0, false
	}
	// The list was checked whole when loaded: its entries decode.
	b = t.every[i]
	for int(b.next) < len(t.list) {
		after, _ := blockEntry(t.list, int(b.next))
		if t.startsAfter(after, key) {
			return b, after.off, true
		}
		b = after
	}
	return b, t.end, true
}

// tableReader is one lookup's reader of a table: it keeps the block it
// read last, since a batch's keys come in order and often share one.
type tableReader struct {
	t      *indexTable
	at     int64  // the offset of the block held, or -1
	buf    []byte // its bytes as read
	blockB []byte // its records
	dec    []byte // room for them, when the file compresses them
}

func newTableReader(t *indexTable) *tableReader {
	return &tableReader{t: t, at: -1, buf: (*blockBufs.Get().(*[]byte))[:0]}
}

// blockBufs are readers' block buffers: a reference resolved by a single
// lookup would otherwise allocate one.
var blockBufs = sync.Pool{New: func() any { b := make([]byte, 0, indexBlock+1024); return &b }}

// done hands the reader's buffer back.
func (r *tableReader) done() {
	for _, b := range [][]byte{r.buf[:0], r.dec[:0]} {
		if cap(b) > 0 {
			blockBufs.Put(&b)
		}
	}
	r.buf, r.dec, r.blockB, r.at = nil, nil, nil, -1
}

// find returns key's entry (an empty one for a deleted key in an
// overlay) and whether the file has a record for it. entry aliases the
// reader's block: valid until the next find.
func (r *tableReader) find(key string) (entry []byte, found bool, err error) {
	b, next, ok := r.t.blockAt(key)
	if !ok {
		return nil, false, nil
	}
	if b.off != r.at {
		if err := r.readBlock(b.off, next); err != nil {
			return nil, false, err
		}
	}
	for b := r.blockB; len(b) > 0; {
		klen, n := binary.Uvarint(b)
		if n <= 0 || uint64(len(b)-n) < klen {
			return nil, false, r.bad("record cut short")
		}
		k := b[n : n+int(klen)]
		b = b[n+int(klen):]
		elen, m := binary.Uvarint(b)
		if m <= 0 || uint64(len(b)-m) < elen {
			return nil, false, r.bad("record cut short")
		}
		e := b[m : m+int(elen)]
		b = b[m+int(elen):]
		switch c := compareKey(k, key); {
		case c == 0:
			return e, true, nil
		case c > 0:
			return nil, false, nil // keys ascend: key is not in the file
		}
	}
	return nil, false, nil
}

func compareKey(k []byte, key string) int {
	switch s := string(k); {
	case s < key:
		return -1
	case s > key:
		return 1
	}
	return 0
}

// readBlock reads the block at off, which ends at next, and checks its
// length and CRC.
func (r *tableReader) readBlock(off, next int64) error {
	t := r.t
	size := int(next - off)
	if size > 1<<30 {
		return r.bad("block too large")
	}
	if cap(r.buf) < size {
		r.buf = make([]byte, size)
	}
	r.at = -1
	r.buf = r.buf[:size]
	if _, err := t.f.ReadAt(r.buf, off); err != nil {
		return err
	}
	n, w := binary.Uvarint(r.buf)
	if w <= 0 || n != uint64(size-w-4) {
		return r.bad("block length")
	}
	data := r.buf[w : size-4]
	if crc32.Checksum(data, crcTable) != binary.BigEndian.Uint32(r.buf[size-4:]) {
		return r.bad("block checksum")
	}
	if t.s2 {
		if r.dec == nil {
			r.dec = (*blockBufs.Get().(*[]byte))[:0]
		}
		var err error
		if r.dec, err = unpack(r.dec, data); err != nil {
			return r.bad(err.Error())
		}
		data = r.dec
	}
	r.at, r.blockB = off, data
	return nil
}

func (r *tableReader) bad(what string) error { return badIndexFile(r.t.path, what) }
