package pipeline

import (
	"encoding/binary"
	"encoding/hex"
	"math"
	"strings"
)

// A state index keeps every managed entry's id in one arena per target,
// and a slot points at it with 32 bits (see maxIDBytes). Two common
// shapes of id are kept smaller:
//
//   - an id that is its key (files, SQL tables keyed on it) is not kept at
//     all: its slot holds idIsKey. In a 10M steady plan of three such
//     targets, the ids were 225 MB of the 765 MB live.
//   - a canonical UUID, as most SCIM servers give, is kept as its 16 bytes
//     instead of 36 characters: 17 bytes an entry instead of 37, 600 MB
//     for 30M entries.
//
// In the arena, an id starts with a uvarint: twice its length for an id
// kept as it is, or 1 for a UUID, whose 16 bytes follow.

// idIsKey is the id offset of a slot whose id is its key, which no
// offset into ids reaches (see maxIDBytes).
const idIsKey = math.MaxUint32

// uuidMark starts a UUID in the arena: odd, where a length is even.
const uuidMark = 1

// keptID is an id as the index keeps it, without a copy: its text, or a
// UUID's 16 bytes, both aliasing the arena (see str). String makes the id.
type keptID struct {
	text string
	uuid bool // text is a UUID's 16 bytes
}

// String is the id. A UUID's is made anew each call, so callers that
// only need to compare ids do it once.
func (k keptID) String() string {
	if !k.uuid {
		return k.text
	}
	var out [36]byte
	hex.Encode(out[0:8], []byte(k.text[0:4]))
	hex.Encode(out[9:13], []byte(k.text[4:6]))
	hex.Encode(out[14:18], []byte(k.text[6:8]))
	hex.Encode(out[19:23], []byte(k.text[8:10]))
	hex.Encode(out[24:36], []byte(k.text[10:16]))
	out[8], out[13], out[18], out[23] = '-', '-', '-', '-'
	return string(out[:])
}

// owned is the id in memory of its own, which outlives the arena.
func (k keptID) owned() string {
	if k.uuid {
		return k.String() // made anew
	}
	return strings.Clone(k.text)
}

// keepID appends id to an arena, and returns where it starts.
func keepID(arena *[]byte, id []byte) uint32 {
	from := uint32(len(*arena))
	if u, ok := parseUUID(id); ok {
		*arena = append(append(*arena, uuidMark), u[:]...)
		return from
	}
	*arena = append(binary.AppendUvarint(*arena, uint64(len(id))<<1), id...)
	return from
}

// idAt is the id keepID put at from.
func idAt(arena []byte, from uint32) keptID {
	n, w := binary.Uvarint(arena[from:])
	start := int(from) + w
	if n == uuidMark {
		return keptID{text: str(arena, span{uint32(start), uint32(start + 16)}), uuid: true}
	}
	return keptID{text: str(arena, span{uint32(start), uint32(start + int(n>>1))})}
}

// parseUUID reads a UUID in canonical form, lowercase: only an id that
// String gives back exactly is kept as one.
func parseUUID(id []byte) (u [16]byte, ok bool) {
	if len(id) != 36 || id[8] != '-' || id[13] != '-' || id[18] != '-' || id[23] != '-' {
		return u, false
	}
	at := 0
	for i := 0; i < 36; {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			i++
			continue
		}
		hi, ok1 := lowerHex(id[i])
		lo, ok2 := lowerHex(id[i+1])
		if !ok1 || !ok2 {
			return u, false
		}
		u[at] = hi<<4 | lo
		at++
		i += 2
	}
	return u, true
}

func lowerHex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// idOffsets says where each key's id starts in a target's ids, by key
// number. It is nil while every entry's id is its key, and is made at the
// first that is not.
type idOffsets []uint32

// add records where the id of key n, the next key numbered, starts;
// idIsKey for a key whose id is the key or that the target does not
// manage. size is how many keys to make room for.
func (o *idOffsets) add(n int, id uint32, size int) {
	if *o == nil {
		if id == idIsKey {
			return
		}
		*o = make(idOffsets, n, max(size, n+1))
		for i := range *o {
			(*o)[i] = idIsKey
		}
	}
	*o = append(*o, id)
}

// of is where key n's id starts.
func (o idOffsets) of(n int32) uint32 {
	if int(n) < len(o) {
		return o[n]
	}
	return idIsKey
}
