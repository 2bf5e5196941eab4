package snapshots

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// A derived file holds what a caller built from some targets' index files
// (a plan's merged index of a source's targets: pipeline/indexblob.go),
// stamped with those files' generations (cachedTarget.Gen). The store
// does not know what it holds, only what it was made from: it is read
// back while every one of them is still its target's, and is removed
// when the store opens to find one that is not.
//
//	file    = magic uvarint(len(gens)) uint64(gen)* uint64(len(payload))
//	          crc32c(payload) payload
//
// Integers are big-endian; the payload is the caller's.
var derivedMagic = []byte("idsync derived v1\n")

// derivedPrefix starts a derived file's name, so that the cache keeps it.
const derivedPrefix = "derived-"

// IndexGen is the generation of target's index files when they hold its
// entries as they are now, and 0 otherwise (no files, commits since they
// were made, or a scan making them).
func (s *Store) IndexGen(target string) uint64 { return s.cache.gen(target) }

// WriteDerived writes the derived file name, made of sections in order,
// stamped with gens (the generations of the files it was made from, as
// Scanned gave them). It does nothing when the store keeps no cache.
func (s *Store) WriteDerived(name string, gens []uint64, sections ...[]byte) error {
	if s.cache.dir == "" {
		return nil
	}
	if err := checkDerivedName(name); err != nil {
		return err
	}
	crc, size := uint32(0), uint64(0)
	for _, b := range sections {
		crc, size = crc32.Update(crc, crcTable, b), size+uint64(len(b))
	}
	head := append([]byte(nil), derivedMagic...)
	head = binary.AppendUvarint(head, uint64(len(gens)))
	for _, g := range gens {
		head = binary.BigEndian.AppendUint64(head, g)
	}
	head = binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint64(head, size), crc)
	f, err := os.CreateTemp(s.cache.dir, ".derived-*")
	if err != nil {
		return err
	}
	for _, b := range append([][]byte{head}, sections...) {
		if err == nil {
			_, err = f.Write(b) // no fsync, as for the index files
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), s.cache.path(name))
	}
	if err != nil {
		_ = os.Remove(f.Name())
	}
	return err
}

// ReadDerived reads the payload of the derived file name if it is stamped
// with gens, which must all be nonzero. It is nil when there is no such
// file, or it is stamped otherwise; a file found damaged is removed, and
// nil too: it is only ever a copy.
func (s *Store) ReadDerived(name string, gens []uint64) ([]byte, error) {
	if s.cache.dir == "" || slices.Contains(gens, 0) {
		return nil, nil
	}
	if err := checkDerivedName(name); err != nil {
		return nil, err
	}
	path := s.cache.path(name)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close() //nolint:errcheck // read only
	r := bufio.NewReaderSize(f, 4096)
	stamped, err := readDerivedStamp(r)
	if err != nil || !slices.Equal(stamped, gens) {
		return nil, nil //nolint:nilerr // damaged or stale: no payload
	}
	var tail [12]byte
	if _, err := io.ReadFull(r, tail[:]); err != nil {
		return nil, s.dropDerived(path)
	}
	size, crc := binary.BigEndian.Uint64(tail[:]), binary.BigEndian.Uint32(tail[8:])
	if fi, err := f.Stat(); err != nil || size > uint64(fi.Size()) {
		return nil, s.dropDerived(path)
	}
	payload := make([]byte, size)
	if _, err := io.ReadFull(r, payload); err != nil || crc32.Checksum(payload, crcTable) != crc {
		return nil, s.dropDerived(path)
	}
	if _, err := r.ReadByte(); err != io.EOF {
		return nil, s.dropDerived(path)
	}
	return payload, nil
}

// dropDerived removes a damaged derived file: the next writer makes it
// anew.
func (s *Store) dropDerived(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// readDerivedStamp reads a derived file's magic and generations.
func readDerivedStamp(r *bufio.Reader) ([]uint64, error) {
	magic := make([]byte, len(derivedMagic))
	if _, err := io.ReadFull(r, magic); err != nil || string(magic) != string(derivedMagic) {
		return nil, errors.New("not a derived file")
	}
	n, err := binary.ReadUvarint(r)
	if err != nil || n > 1<<16 {
		return nil, errors.New("derived file's stamp cut short")
	}
	gens := make([]uint64, n)
	for i := range gens {
		var b [8]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, errors.New("derived file's stamp cut short")
		}
		gens[i] = binary.BigEndian.Uint64(b[:])
	}
	return gens, nil
}

// checkDerivedName refuses a name that is not a plain derived file's: it
// is a file name in the cache's directory.
func checkDerivedName(name string) error {
	if !strings.HasPrefix(name, derivedPrefix) || filepath.Base(name) != name {
		return fmt.Errorf("derived file name %q: want %s followed by a plain file name", name, derivedPrefix)
	}
	return nil
}

// derivedCurrent says whether the derived file at path was made only from
// files the cache still holds (gens), so that opening the store keeps it.
func derivedCurrent(path string, gens map[uint64]bool) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close() //nolint:errcheck // read only
	stamped, err := readDerivedStamp(bufio.NewReaderSize(f, 512))
	if err != nil {
		return false
	}
	for _, g := range stamped {
		if !gens[g] {
			return false
		}
	}
	return true
}
