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
// does not know what it holds, only what it was made from: it is given
// back while every one of them is still its target's, and is removed
// when the store opens to find one that is not.
//
//	file    = magic uvarint(len(gens)) uint64(gen)* uint64(len(payload))
//	          crc32c(payload) zeros payload
//
// Integers are big-endian, and the zeros pad the head to a multiple of
// derivedAlign bytes, so that the payload, mapped, starts as aligned as
// the caller's own memory would (MapDerived). The payload is the caller's.
var derivedMagic = []byte("idsync derived v1\n")

// derivedAlign is what a derived file's payload is aligned to.
const derivedAlign = 64

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
	head = append(head, make([]byte, -len(head)&(derivedAlign-1))...)
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

// MapDerived maps the payload of the derived file name if it is stamped
// with gens, which must all be nonzero, and checks it. It is nil when
// there is no such file, or it is stamped otherwise; a file found damaged
// is removed, and nil too: it is only ever a copy.
//
// The payload is the file's pages in the kernel's cache, mapped: reading
// it into memory of the process's own cost a 1M steady plan a page fault
// for each 4 KB of it, zeroed first, and on the bench's host that was
// 16 µs a page, while a mapping's fault maps up to 16 cached pages at
// once. Nothing that points into the payload may be used once release
// is called (tests make such a use fault: releaseMapping).
func (s *Store) MapDerived(name string, gens []uint64) (payload []byte, release func(), err error) {
	none := func() {}
	if s.cache.dir == "" || slices.Contains(gens, 0) {
		return nil, none, nil
	}
	if err := checkDerivedName(name); err != nil {
		return nil, none, err
	}
	path := s.cache.path(name)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, none, nil
	}
	if err != nil {
		return nil, none, err
	}
	defer f.Close() //nolint:errcheck // read only; a mapping outlives its file's closing
	r := bufio.NewReaderSize(f, 4096)
	stamped, err := readDerivedStamp(r)
	if err != nil || !slices.Equal(stamped, gens) {
		return nil, none, nil //nolint:nilerr // damaged or stale: no payload
	}
	var tail [12]byte
	if _, err := io.ReadFull(r, tail[:]); err != nil {
		return nil, none, s.dropDerived(path)
	}
	size, crc := binary.BigEndian.Uint64(tail[:]), binary.BigEndian.Uint32(tail[8:])
	head := uint64(len(derivedMagic)+uvarintLen(uint64(len(gens)))+8*len(gens)+len(tail)+derivedAlign-1) &^ (derivedAlign - 1)
	fi, err := f.Stat()
	if err != nil || size == 0 || uint64(fi.Size()) != head+size {
		return nil, none, s.dropDerived(path)
	}
	all, unmap, err := mapRange(f, 0, int(head+size))
	if err != nil {
		return nil, none, err
	}
	payload = all[head:]
	if crc32.Checksum(payload, crcTable) != crc {
		unmap()
		return nil, none, s.dropDerived(path)
	}
	return payload, unmap, nil
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
