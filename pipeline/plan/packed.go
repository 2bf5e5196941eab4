package plan

import (
	"encoding/binary"
	"math"
	"unsafe"

	"github.com/idsync/idsync/connectors"
)

// Packed is a compact create's attribute values in one string: for each
// attribute of its target, in policy order, a kind byte and the value's
// bytes. Pack makes it; Op.Values reads it in place.
//
// As a []connectors.Value, a create's ten values took 160 bytes of
// interfaces, a string header of 16 bytes for each string boxed in one,
// and the strings' bytes wherever the rules had built them (all of it
// memory the collector must scan). Packed, they take about as many bytes
// as their text, in one allocation the collector does not scan. See
// README, Performance.
type Packed string

// The kinds of a packed value. A string is its length (uvarint) and
// bytes; an int64 a varint; a float64 its 8 bits, little-endian; a list
// its length and each string as above.
const (
	kindAbsent byte = iota
	kindString
	kindTrue
	kindFalse
	kindInt
	kindFloat
	kindList
)

// Packer packs compact creates' values into blocks it shares among them:
// one allocation for many creates instead of one each, which in a 1M
// first plan were 2.3M allocations of about 100 bytes. A nil Packer
// allocates each create's values on their own. Not safe for concurrent
// use: each worker has its own.
type Packer struct {
	buf   []byte // a create's values are encoded here, then copied to block
	block []byte // bytes up to len are handed out, and never written again
}

// packBlock is the size of a Packer's blocks. The last few hundred bytes
// of each may go unused.
const packBlock = 64 << 10

// Pack packs values. ok is false when a value is not of a type
// connectors.Value lists (the rules never make one); the caller keeps that
// create plain.
func (k *Packer) Pack(values []connectors.Value) (p Packed, ok bool) {
	var b []byte
	if k != nil {
		b = k.buf[:0]
	}
	b, ok = appendValues(b, values)
	if !ok {
		return "", false
	}
	if k == nil || len(b) == 0 {
		return Packed(b), true
	}
	k.buf = b
	if len(b) > cap(k.block)-len(k.block) {
		k.block = make([]byte, 0, max(packBlock, len(b)))
	}
	start := len(k.block)
	k.block = append(k.block, b...)
	// The bytes handed out are never written again (later creates are
	// appended after them, or to a new block), so they may be a string.
	return Packed(unsafe.String(&k.block[start], len(b))), true
}

func appendValues(b []byte, values []connectors.Value) ([]byte, bool) {
	for _, v := range values {
		switch v := v.(type) {
		case nil:
			b = append(b, kindAbsent)
		case string:
			b = appendString(append(b, kindString), v)
		case bool:
			kind := kindFalse
			if v {
				kind = kindTrue
			}
			b = append(b, kind)
		case int64:
			b = binary.AppendVarint(append(b, kindInt), v)
		case float64:
			b = binary.LittleEndian.AppendUint64(append(b, kindFloat), math.Float64bits(v))
		case []string:
			if v == nil {
				return b, false // nil and empty lists print differently
			}
			b = binary.AppendUvarint(append(b, kindList), uint64(len(v)))
			for _, s := range v {
				b = appendString(b, s)
			}
		default:
			return b, false
		}
	}
	return b, true
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// PackedValue is one value of a Packed, read in place: a string value is
// a slice of the Packed, not a copy.
type PackedValue struct {
	kind byte
	s    string // a string's bytes; a list's count and strings
	bits uint64 // an int64's or a float64's bits
}

// IsSet reports whether the create sets the attribute.
func (v PackedValue) IsSet() bool { return v.kind != kindAbsent }

// String returns a string value, and false for a value of another kind.
// It costs no allocation, where Value boxes the string.
func (v PackedValue) String() (string, bool) { return v.s, v.kind == kindString }

// Value returns the value as a connectors.Value: nil for an unset one.
func (v PackedValue) Value() connectors.Value {
	switch v.kind {
	case kindString:
		return v.s
	case kindTrue:
		return true
	case kindFalse:
		return false
	case kindInt:
		return int64(v.bits)
	case kindFloat:
		return math.Float64frombits(v.bits)
	case kindList:
		r := reader{s: v.s}
		list := make([]string, r.uvarint())
		for i := range list {
			list[i] = r.str()
		}
		return list
	}
	return nil
}

// unpack calls fn with each value of p, in policy order.
func (p Packed) unpack(fn func(i int, v PackedValue)) {
	r := reader{s: string(p)}
	for i := 0; r.i < len(r.s); i++ {
		v := PackedValue{kind: r.s[r.i]}
		r.i++
		switch v.kind {
		case kindString:
			v.s = r.str()
		case kindInt:
			// binary.AppendVarint's zig-zag form, undone.
			u := r.uvarint()
			n := int64(u >> 1)
			if u&1 != 0 {
				n = ^n
			}
			v.bits = uint64(n)
		case kindFloat:
			for j := range 8 {
				v.bits |= uint64(r.s[r.i+j]) << (8 * j)
			}
			r.i += 8
		case kindList:
			start := r.i
			for range r.uvarint() {
				r.str()
			}
			v.s = r.s[start:r.i]
		}
		fn(i, v)
	}
}

// reader reads a Packed's lengths and strings. Pack wrote them, so they
// are well formed.
type reader struct {
	s string
	i int
}

func (r *reader) uvarint() uint64 {
	var n uint64
	for shift := 0; ; shift += 7 {
		c := r.s[r.i]
		r.i++
		n |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return n
		}
	}
}

func (r *reader) str() string {
	n := int(r.uvarint())
	s := r.s[r.i : r.i+n]
	r.i += n
	return s
}
