package snapshots

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Entry is the last-known state of one managed object in one target.
type Entry struct {
	// Key is the source key the object belongs to.
	Key string
	// ID is the target's id of the object: the link.
	ID string
	// Disabled is the status idsync last set.
	Disabled bool
	// Deprovisioned is true when the object was disabled because its
	// identity left; a grace-period delete may follow. False while disabled
	// for inactivity (a start date not yet reached).
	Deprovisioned bool
	// Hash fingerprints the source record and policy that produced Attrs.
	// When both are unchanged the engine skips evaluation. Zero means
	// unknown: the record is always re-evaluated.
	Hash uint64
	// Since is when the status last changed (Unix seconds), for grace
	// periods.
	Since int64
	// Attrs are the attribute values last written, encoded by the engine.
	// Scans that do not ask for attributes leave it nil. They are stored
	// under their own key (see famRecord).
	Attrs []byte
	// Groups are the groups idsync last put the user in, under their own
	// key too (see kindGroups): Store.Groups and Details read them, Get and
	// scans do not. Commit writes them only with PartGroups.
	Groups []string
}

const entryVersion = 1

const (
	flagDisabled      = 1
	flagDeprovisioned = 2
)

// encode writes: version, flags, hash, since, len(id), id. (Before v3 the
// attributes followed; migrate moves them to their own key.)
func (e *Entry) encode() []byte {
	b := make([]byte, 0, 2+8+8+binary.MaxVarintLen64+len(e.ID))
	var flags byte
	if e.Disabled {
		flags |= flagDisabled
	}
	if e.Deprovisioned {
		flags |= flagDeprovisioned
	}
	b = append(b, entryVersion, flags)
	b = binary.BigEndian.AppendUint64(b, e.Hash)
	b = binary.BigEndian.AppendUint64(b, uint64(e.Since))
	b = binary.AppendUvarint(b, uint64(len(e.ID)))
	return append(b, e.ID...)
}

var errCorrupt = errors.New("corrupt state entry")

// decode fills e, but for its attributes, from b.
func (e *Entry) decode(b []byte) error {
	var ix IndexEntry
	if _, err := ix.decode(b); err != nil {
		return err
	}
	e.Disabled, e.Deprovisioned, e.Hash, e.Since, e.ID = ix.Disabled, ix.Deprovisioned, ix.Hash, ix.Since, string(ix.ID)
	return nil
}

// IndexEntry is an entry without its attributes, as ScanIndex yields it:
// ID aliases the store's memory and is valid only during the callback.
type IndexEntry struct {
	ID            []byte
	Disabled      bool
	Deprovisioned bool
	Hash          uint64
	Since         int64
}

// decode fills ix from b and returns what follows: a v2 entry's
// attributes, nothing in v3.
func (ix *IndexEntry) decode(b []byte) ([]byte, error) {
	if len(b) < 18 || b[0] != entryVersion {
		return nil, fmt.Errorf("%w (%d bytes)", errCorrupt, len(b))
	}
	ix.Disabled = b[1]&flagDisabled != 0
	ix.Deprovisioned = b[1]&flagDeprovisioned != 0
	ix.Hash = binary.BigEndian.Uint64(b[2:])
	ix.Since = int64(binary.BigEndian.Uint64(b[10:]))
	n, w := binary.Uvarint(b[18:])
	if w <= 0 || uint64(len(b)-18-w) < n {
		return nil, errCorrupt
	}
	start := 18 + w
	ix.ID = b[start : start+int(n)]
	return b[start+int(n):], nil
}
