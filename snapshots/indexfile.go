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
)

// An index file holds one target's entries, or changes to them, in key
// order, as Badger holds them: key and encoded entry (an empty entry says
// the key was deleted). It is blocks of records, each with a CRC, and a
// trailer with the record count, so a file that was cut short or changed
// on disk is refused whole before any of it is read (readIndexFile).
//
//	file    = magic block* trailer
//	block   = uvarint(len) records crc32c(records)
//	record  = uvarint(len(key)) key uvarint(len(entry)) entry
//	trailer = uvarint(0) uint64(records) crc32c(that uint64)
var indexMagic = []byte("idsync index v1\n")

// indexBlock is the size a block is cut at: the reader holds one block
// per file it reads.
const indexBlock = 64 << 10

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
}

func createIndexFile(path string) (*indexWriter, error) {
	f, err := os.CreateTemp(filepath.Dir(path), ".index-*")
	if err != nil {
		return nil, err
	}
	w := &indexWriter{f: f, w: bufio.NewWriterSize(f, 256<<10), path: path, block: make([]byte, 0, indexBlock+1024)}
	if _, err := w.w.Write(indexMagic); err != nil {
		w.abort()
		return nil, err
	}
	return w, nil
}

// add appends a record; keys must come in increasing order.
func (w *indexWriter) add(key, entry []byte) error {
	if w.records > 0 && bytes.Compare(key, w.last) <= 0 {
		return fmt.Errorf("index file %s: key %q after %q", w.path, key, w.last)
	}
	w.last = append(w.last[:0], key...)
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
	var head [binary.MaxVarintLen64]byte
	if _, err := w.w.Write(head[:binary.PutUvarint(head[:], uint64(len(w.block)))]); err != nil {
		return err
	}
	if _, err := w.w.Write(w.block); err != nil {
		return err
	}
	_, err := w.w.Write(binary.BigEndian.AppendUint32(nil, crc32.Checksum(w.block, crcTable)))
	w.block = w.block[:0]
	return err
}

// finish writes the trailer and renames the file into place.
func (w *indexWriter) finish() error {
	err := w.flushBlock()
	if err == nil {
		n := binary.BigEndian.AppendUint64(nil, w.records)
		tail := append(append([]byte{0}, n...), binary.BigEndian.AppendUint32(nil, crc32.Checksum(n, crcTable))...)
		_, err = w.w.Write(tail)
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
	block   []byte
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
	magic := make([]byte, len(indexMagic))
	if _, err := io.ReadFull(r.r, magic); err != nil || !bytes.Equal(magic, indexMagic) {
		r.close()
		return nil, r.bad("no index file header")
	}
	return r, nil
}

func (r *indexReader) close() { _ = r.f.Close() }

func (r *indexReader) bad(what string) error {
	return fmt.Errorf("%s: %w: %s", r.path, errBadIndexFile, what)
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
	return true, r.readBlockOf(size)
}

// readBlockOf reads a block of size bytes and its CRC, and checks it.
func (r *indexReader) readBlockOf(size uint64) error {
	if uint64(cap(r.block)) < size+4 {
		r.block = make([]byte, size+4)
	}
	r.block = r.block[:size+4]
	if _, err := io.ReadFull(r.r, r.block); err != nil {
		return r.bad("cut short")
	}
	if crc32.Checksum(r.block[:size], crcTable) != binary.BigEndian.Uint32(r.block[size:]) {
		return r.bad("block checksum")
	}
	r.block, r.at = r.block[:size], 0
	return nil
}

// checkTrailer reads the trailer and checks it against the records read.
func (r *indexReader) checkTrailer() error {
	n, err := r.readTrailer()
	if err == nil && n != r.records {
		err = r.bad("record count")
	}
	return err
}

// readTrailer reads and checks the trailer, and that nothing follows it.
func (r *indexReader) readTrailer() (records uint64, err error) {
	var t [12]byte
	if _, err := io.ReadFull(r.r, t[:]); err != nil {
		return 0, r.bad("trailer cut short")
	}
	if crc32.Checksum(t[:8], crcTable) != binary.BigEndian.Uint32(t[8:]) {
		return 0, r.bad("trailer checksum")
	}
	if _, err := r.r.ReadByte(); err != io.EOF {
		return 0, r.bad("data after the trailer")
	}
	return binary.BigEndian.Uint64(t[:8]), nil
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
		if err := r.readBlockOf(size); err != nil {
			return err
		}
	}
}
