package pipeline

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"unsafe"
)

// A full plan's state index of a source's targets (a shared key table,
// the targets' slots side by side, their ids) is merged from each
// target's index cache file: three scans and a merge that took 0.42 s of
// CPU, 210-350 ms of it before the 1M steady plan could evaluate a record.
// Once merged, it is kept as a derived file of the store, stamped with the
// generations of the files it came from (snapshots/derived.go); the next
// plan that finds them unchanged maps it instead, and uses it where it is.
// Only ids (diff.Stored's, a copy) and absent keys (unseen, a copy) leave
// the index for the plan; the mapping goes when the source's plan is made
// (sourceRun.releaseIndex), and tests make any later use of it fault.
//
// It is in the process's own byte order and layout: a machine of another
// order finds the marker wrong and merges anew. Every section starts at a
// multiple of 8 bytes, so that the slices read back alias the payload
// (which Go allocates 8-byte aligned) without a copy.
//
//	payload = marker keys targets len(arena)
//	          (len(ids) len(idOf))*targets       (uint64 each)
//	          arena ends rows (ids idOf)*targets  (each padded to 8)

// blobMarker starts a payload; read in another byte order it does not
// match.
const blobMarker = 0x3176_2078_6564_6e69 // "index v1", little-endian

// mergedIndex is a full read's index of a source's targets: what
// loadIndexes hands each target's stateIndex.
type mergedIndex struct {
	keys *keyTable
	rows []slot
	ids  [][]byte    // by target
	idOf []idOffsets // by target
	// release unmaps a merged index read back (nil for one merged
	// anew): see sourceRun.releaseIndex.
	release func()
}

// blobName is the derived file of the merged index of targets (in order)
// of source.
func blobName(source string, targets []string) string {
	h := fnv.New64a()
	for _, s := range append([]string{source}, targets...) {
		_, _ = h.Write([]byte(s))
		_, _ = h.Write([]byte{0})
	}
	return fmt.Sprintf("derived-index-%016x", h.Sum64())
}

// sections lays m out as a payload, in pieces that alias m.
func (m *mergedIndex) sections() [][]byte {
	head := []uint64{blobMarker, uint64(m.keys.len()), uint64(len(m.ids)), uint64(len(m.keys.arena))}
	for i := range m.ids {
		head = append(head, uint64(len(m.ids[i])), uint64(len(m.idOf[i])))
	}
	out := [][]byte{bytesOf(head)}
	add := func(b []byte) {
		out = append(out, b)
		if pad := -len(b) & 7; pad > 0 {
			out = append(out, make([]byte, pad))
		}
	}
	add(m.keys.arena)
	add(bytesOf(m.keys.ends))
	add(bytesOf(m.rows))
	for i := range m.ids {
		add(m.ids[i])
		add(bytesOf(m.idOf[i]))
	}
	return out
}

// errBlob: a payload is not what sections laid out.
var errBlob = errors.New("merged index is not as written")

// decodeBlob is the merged index of targets targets that sections laid
// out in payload. Its slices alias payload, each capped at its length, so
// that nothing appended to one writes over the next.
func decodeBlob(payload []byte, targets int) (*mergedIndex, error) {
	if uintptr(unsafe.Pointer(unsafe.SliceData(payload)))%8 != 0 {
		return nil, errBlob
	}
	r := blobReader{b: payload}
	if r.word() != blobMarker {
		return nil, errBlob
	}
	keys, n, arena := r.word(), r.word(), r.word()
	if n != uint64(targets) || keys > 1<<31 {
		return nil, errBlob
	}
	sizes := make([]uint64, 2*targets)
	for i := range sizes {
		sizes[i] = r.word()
	}
	m := &mergedIndex{ids: make([][]byte, targets), idOf: make([]idOffsets, targets)}
	a := r.take(arena)
	ends := castSlice[uint32](r.take(keys * 4))
	m.rows = castSlice[slot](r.take(keys * uint64(targets) * 8))
	for i := range targets {
		m.ids[i] = r.take(sizes[2*i])
		if sizes[2*i+1] != 0 && sizes[2*i+1] != keys {
			return nil, errBlob
		}
		m.idOf[i] = castSlice[uint32](r.take(sizes[2*i+1] * 4))
	}
	if r.bad || len(r.b) != 0 || !endsFit(ends, len(a)) {
		return nil, errBlob
	}
	m.keys = sortedKeyTableOf(a, ends)
	return m, nil
}

// endsFit says whether ends can be a key table's over an arena of n bytes:
// rising, and ending at its end.
func endsFit(ends []uint32, n int) bool {
	last := uint32(0)
	for _, e := range ends {
		if e < last {
			return false
		}
		last = e
	}
	return int(last) == n
}

// blobReader takes a payload apart, noting when it runs out.
type blobReader struct {
	b   []byte
	bad bool
}

func (r *blobReader) word() uint64 {
	b := r.take(8)
	if len(b) < 8 {
		return 0
	}
	return binary.NativeEndian.Uint64(b)
}

// take is the next n bytes, the reader then moving past their padding.
func (r *blobReader) take(n uint64) []byte {
	padded := n + (-n & 7)
	if r.bad || padded < n || padded > uint64(len(r.b)) {
		r.bad = true
		return nil
	}
	b := r.b[:n:n]
	r.b = r.b[padded:]
	return b
}

// bytesOf is s's memory as bytes, for writing.
func bytesOf[T any](s []T) []byte {
	if len(s) == 0 {
		return nil
	}
	var zero T
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), len(s)*int(unsafe.Sizeof(zero)))
}

// castSlice is b's memory as a slice of T, b being aligned for T and a
// multiple of its size long.
func castSlice[T any](b []byte) []T {
	var zero T
	if len(b) == 0 {
		return nil
	}
	n := len(b) / int(unsafe.Sizeof(zero))
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(b))), n)[:n:n]
}
