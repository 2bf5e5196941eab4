package snapshots

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/klauspost/compress/s2"
)

// An index file holds one target's entries, or changes to them, in key
// order, as Badger holds them: key and encoded entry (an empty entry says
// the key was deleted); or in the same form every key's details
// (detailscache.go). It is blocks of records, each with a CRC, then a
// list of each block's first key and offset, and a footer with the record
// count. A full read checks every block before it hands out any record
// (checkIndexFile); a lookup (indexTable) reads the list and then only the
// blocks it needs, each checked as it is read.
//
//	file    = magic flags block* end
//	block   = uvarint(len(payload)) payload crc32c(payload)
//	payload = records, or S2(records) when flags has fileS2
//	records = (uvarint(len(key)) key uvarint(len(entry)) entry)*
//	end     = uvarint(0) uvarint(len(blocks)) blocks footer
//	blocks  = (uvarint(len(first key)) first key uvarint(offset))*
//	footer  = uint64(records) uint64(offset of end) uint64(len(blocks))
//	          crc32c(blocks) crc32c(the footer's first 28 bytes)
//
// v1 files had no block list, and 64 KB blocks; v2 files no flags.
var indexMagic = []byte("idsync index v3\n")

// headerSize is the size of a file's magic and flags.
var headerSize = len(indexMagic) + 1

// fileS2 flags a file whose blocks are compressed with S2. The details'
// files are (detailscache.go): their 4 KB blocks of attributes shrink
// 2.8× (525 MB to 176 MB for the bench's 1M identities), for about a
// microsecond to decode the block a lookup reads. Entries, mostly hashes
// and ids, are left as they are: a full read decodes every block.
const fileS2 = 1

// indexFiles is the version of the files' format, which a cache's
// manifest names: files of another version are dropped when the store
// opens. 3: the cache holds details too (detailscache.go), under a name
// an older idsync would take for a target's and refresh with entries,
// and a file's flags say how its blocks are stored.
const indexFiles = 3

// footerSize is the fixed size of an index file's footer.
const footerSize = 32

// indexBlock is the size a block is cut at. A lookup reads and checks a
// whole block to find one record, so blocks are small: in
// BenchmarkIndexFile (1M records), a lookup took 2.3 µs with 4 KB blocks,
// 3.5-4.0 µs with 16 KB and 11 µs with 64 KB, while a full read took
// 18-22 ns a record with any of them. The benchmark varies it.
var indexBlock = 4 << 10

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// errBadIndexFile: an index file is not what its writer wrote.
var errBadIndexFile = errors.New("index cache file is damaged")

// indexWriter writes an index file under a temporary name; finish gives
// it its name.
type indexWriter struct {
	f       *os.File
	w       *bufio.Writer
	path    string
	block   []byte
	records uint64
	last    []byte // the previous key, to refuse keys out of order
	failed  bool   // a tee's write failed: the file is not to be kept
	offset  uint64 // bytes written so far
	first   []byte // the first key of the block being filled
	blocks  []byte // the block list (see the format above)
	s2      bool   // compress the blocks (fileS2)
	packed  []byte // a compressed block
}

// createIndexFile starts a file, whose blocks are compressed when s2.
func createIndexFile(path string, s2 bool) (*indexWriter, error) {
	f, err := os.CreateTemp(filepath.Dir(path), ".index-*")
	if err != nil {
		return nil, err
	}
	w := &indexWriter{f: f, w: bufio.NewWriterSize(f, 256<<10), path: path, block: make([]byte, 0, indexBlock+1024), s2: s2}
	flags := byte(0)
	if s2 {
		flags = fileS2
	}
	if _, err := w.w.Write(append(slices.Clone(indexMagic), flags)); err != nil {
		w.abort()
		return nil, err
	}
	w.offset = uint64(headerSize)
	return w, nil
}

// add appends a record; keys must come in increasing order.
func (w *indexWriter) add(key, entry []byte) error {
	if w.records > 0 && bytes.Compare(key, w.last) <= 0 {
		return fmt.Errorf("index file %s: key %q after %q", w.path, key, w.last)
	}
	w.last = append(w.last[:0], key...)
	if len(w.block) == 0 {
		w.first = append(w.first[:0], key...)
	}
	w.block = binary.AppendUvarint(w.block, uint64(len(key)))
	w.block = append(w.block, key...)
	w.block = binary.AppendUvarint(w.block, uint64(len(entry)))
	w.block = append(w.block, entry...)
	w.records++
	if len(w.block) >= indexBlock {
		return w.flushBlock()
	}
	return nil
}

// tee is add for a copy made along with a scan, whose failure must not
// fail the scan: the file is then dropped.
func (w *indexWriter) tee(key, entry []byte) {
	if !w.failed && w.add(key, entry) != nil {
		w.failed = true
	}
}

func (w *indexWriter) flushBlock() error {
	if len(w.block) == 0 {
		return nil
	}
	w.blocks = binary.AppendUvarint(w.blocks, uint64(len(w.first)))
	w.blocks = append(w.blocks, w.first...)
	w.blocks = binary.AppendUvarint(w.blocks, w.offset)
	payload := w.block
	if w.s2 {
		w.packed = s2.Encode(w.packed[:cap(w.packed)], w.block)
		payload = w.packed
	}
	head := binary.AppendUvarint(nil, uint64(len(payload)))
	if _, err := w.w.Write(head); err != nil {
		return err
	}
	if _, err := w.w.Write(payload); err != nil {
		return err
	}
	_, err := w.w.Write(binary.BigEndian.AppendUint32(nil, crc32.Checksum(payload, crcTable)))
	w.offset += uint64(len(head) + len(payload) + 4)
	w.block = w.block[:0]
	return err
}

// end is the file's end: the block list and the footer.
func (w *indexWriter) end() []byte {
	b := binary.AppendUvarint([]byte{0}, uint64(len(w.blocks)))
	b = append(b, w.blocks...)
	footer := binary.BigEndian.AppendUint64(nil, w.records)
	footer = binary.BigEndian.AppendUint64(footer, w.offset)
	footer = binary.BigEndian.AppendUint64(footer, uint64(len(w.blocks)))
	footer = binary.BigEndian.AppendUint32(footer, crc32.Checksum(w.blocks, crcTable))
	footer = binary.BigEndian.AppendUint32(footer, crc32.Checksum(footer, crcTable))
	return append(b, footer...)
}

// finish writes the end and renames the file into place.
func (w *indexWriter) finish() error {
	err := w.flushBlock()
	if err == nil {
		_, err = w.w.Write(w.end())
	}
	if err == nil {
		err = w.w.Flush()
	}
	// No fsync: the files are a cache, and a file a crash left short or
	// garbled fails its checks and is made again. At a million entries
	// syncing the three targets' files made a plan seconds slower.
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(w.f.Name(), w.path)
	}
	if err != nil {
		_ = os.Remove(w.f.Name())
	}
	return err
}

// abort drops a file not finished.
func (w *indexWriter) abort() {
	_ = w.f.Close()
	_ = os.Remove(w.f.Name())
}

// indexReader reads an index file's records in order. key and entry alias
// its current block: valid until the next call to next.
type indexReader struct {
	f       *os.File
	r       *bufio.Reader
	path    string
	s2      bool   // the blocks are compressed (fileS2)
	raw     []byte // a block's payload and CRC, as read
	block   []byte // its records
	at      int
	records uint64 // records read so far
	key     []byte
	entry   []byte
}

func openIndexFile(path string) (*indexReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	r := &indexReader{f: f, r: bufio.NewReaderSize(f, 256<<10), path: path}
	head := make([]byte, headerSize)
	if _, err := io.ReadFull(r.r, head); err != nil || !bytes.Equal(head[:len(indexMagic)], indexMagic) || head[len(indexMagic)]&^fileS2 != 0 {
		r.close()
		return nil, r.bad("no index file header")
	}
	r.s2 = head[len(indexMagic)] == fileS2
	return r, nil
}

func (r *indexReader) close() { _ = r.f.Close() }

func (r *indexReader) bad(what string) error { return badIndexFile(r.path, what) }

func badIndexFile(path, what string) error {
	return fmt.Errorf("%s: %w: %s", path, errBadIndexFile, what)
}

// next moves to the next record; false at the end (after the trailer
// checked out) or on err.
func (r *indexReader) next() (bool, error) {
	if r.at == len(r.block) {
		more, err := r.readBlock()
		if !more || err != nil {
			return false, err
		}
	}
	b := r.block[r.at:]
	klen, n := binary.Uvarint(b)
	if n <= 0 || uint64(len(b)-n) < klen {
		return false, r.bad("record cut short")
	}
	r.key, b = b[n:n+int(klen)], b[n+int(klen):]
	elen, m := binary.Uvarint(b)
	if m <= 0 || uint64(len(b)-m) < elen {
		return false, r.bad("record cut short")
	}
	r.entry = b[m : m+int(elen)]
	r.at += n + int(klen) + m + int(elen)
	r.records++
	return true, nil
}

// readBlock loads and checks the next block; false at the trailer.
func (r *indexReader) readBlock() (bool, error) {
	size, err := binary.ReadUvarint(r.r)
	if err != nil {
		return false, r.bad("cut short")
	}
	if size == 0 {
		return false, r.checkTrailer()
	}
	if size > 1<<30 {
		return false, r.bad("block too large")
	}
	return true, r.readBlockOf(size, true)
}

// readBlockOf reads a block's payload of size bytes and its CRC, checks
// it, and when decode is set makes its records the current block.
func (r *indexReader) readBlockOf(size uint64, decode bool) error {
	if uint64(cap(r.raw)) < size+4 {
		r.raw = make([]byte, size+4)
	}
	r.raw = r.raw[:size+4]
	if _, err := io.ReadFull(r.r, r.raw); err != nil {
		return r.bad("cut short")
	}
	payload := r.raw[:size]
	if crc32.Checksum(payload, crcTable) != binary.BigEndian.Uint32(r.raw[size:]) {
		return r.bad("block checksum")
	}
	if !decode {
		return nil
	}
	r.at = 0
	if !r.s2 {
		r.block = payload
		return nil
	}
	var err error
	if r.block, err = unpack(r.block, payload); err != nil {
		return r.bad(err.Error())
	}
	return nil
}

// unpack decodes an S2 block into buf's space when it fits.
func unpack(buf, payload []byte) ([]byte, error) {
	b, err := s2.Decode(buf[:cap(buf)], payload)
	if err != nil {
		return nil, errors.New("block does not decompress")
	}
	return b, nil
}

// checkTrailer reads the file's end and checks it against the records
// read.
func (r *indexReader) checkTrailer() error {
	n, err := r.readTrailer()
	if err == nil && n != r.records {
		err = r.bad("record count")
	}
	return err
}

// readTrailer reads and checks the file's end after its uvarint(0), and
// that nothing follows it.
func (r *indexReader) readTrailer() (records uint64, err error) {
	size, err := binary.ReadUvarint(r.r)
	if err != nil || size > 1<<30 {
		return 0, r.bad("block list cut short")
	}
	end := make([]byte, size+footerSize)
	if _, err := io.ReadFull(r.r, end); err != nil {
		return 0, r.bad("trailer cut short")
	}
	f, err := parseFooter(end[size:])
	if err != nil {
		return 0, r.bad(err.Error())
	}
	if f.blocks != size || crc32.Checksum(end[:size], crcTable) != f.blocksCRC {
		return 0, r.bad("block list checksum")
	}
	if _, err := r.r.ReadByte(); err != io.EOF {
		return 0, r.bad("data after the trailer")
	}
	return f.records, nil
}

// footer is an index file's footer (see the format above).
type footer struct {
	records, end, blocks uint64
	blocksCRC            uint32
}

func parseFooter(b []byte) (footer, error) {
	if len(b) != footerSize || crc32.Checksum(b[:28], crcTable) != binary.BigEndian.Uint32(b[28:]) {
		return footer{}, errors.New("footer checksum")
	}
	return footer{records: binary.BigEndian.Uint64(b), end: binary.BigEndian.Uint64(b[8:]),
		blocks: binary.BigEndian.Uint64(b[16:]), blocksCRC: binary.BigEndian.Uint32(b[24:])}, nil
}

// checkIndexFile reads a whole file and reports whether its blocks are
// intact, so that a reader never hands out part of a damaged file. It
// does not decode the records: a block whose CRC holds is as its writer
// wrote it, and the count in the trailer is checked as the records are
// read.
func checkIndexFile(path string) error {
	r, err := openIndexFile(path)
	if err != nil {
		return err
	}
	defer r.close()
	for {
		size, err := binary.ReadUvarint(r.r)
		if err != nil {
			return r.bad("cut short")
		}
		if size == 0 {
			_, err := r.readTrailer()
			return err
		}
		if size > 1<<30 {
			return r.bad("block too large")
		}
		if err := r.readBlockOf(size, false); err != nil {
			return err
		}
	}
}
