package pipeline

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestMergedIndexRefusesWhatItDidNotWrite reads a merged index back from
// its sections, then from payloads that differ from them: a wrong marker
// (another byte order), a target count, a length, keys out of place.
// Each must be refused, not read into an index that points past its
// memory.
func TestMergedIndexRefusesWhatItDidNotWrite(t *testing.T) {
	keys := newSortedKeyTable(3)
	for _, k := range []string{"E1", "E22", "E333"} {
		keys.add([]byte(k))
	}
	var ids []byte
	var idOf idOffsets
	idOf.add(0, idIsKey, 3)
	idOf.add(1, keepID(&ids, []byte("long-id")), 3)
	idOf.add(2, idIsKey, 3)
	m := &mergedIndex{keys: keys, rows: []slot{{[2]uint32{1, 3}}, {}, {[2]uint32{5, 7}}, {[2]uint32{9, 1}}, {}, {[2]uint32{2, 3}}},
		ids: [][]byte{nil, ids}, idOf: []idOffsets{nil, idOf}}
	payload := bytes.Join(m.sections(), nil)
	got, err := decodeBlob(payload, 2)
	if err != nil {
		t.Fatal(err)
	}
	for n := range int32(3) {
		if got.keys.key(n) != keys.key(n) {
			t.Errorf("key %d: %q, want %q", n, got.keys.key(n), keys.key(n))
		}
	}
	if diff := cmp.Diff([]any{m.rows, m.ids[1], []uint32(m.idOf[1])}, []any{got.rows, got.ids[1], []uint32(got.idOf[1])}, cmp.AllowUnexported(slot{})); diff != "" {
		t.Errorf("read back (-written +read):\n%s", diff)
	}
	if got.idOf[0] != nil || len(got.ids[0]) != 0 {
		t.Errorf("the first target's ids are its keys, yet read back %v %q", got.idOf[0], got.ids[0])
	}
	// Appending to what was read back must not write over the payload.
	got.keys.add([]byte("E4444"))
	if again, err := decodeBlob(payload, 2); err != nil || again.keys.len() != 3 {
		t.Errorf("after adding a key to the table read back, the payload reads %v (%v)", again, err)
	}
	word := func(i int, v uint64) []byte {
		b := bytes.Clone(payload)
		binary.NativeEndian.PutUint64(b[8*i:], v)
		return b
	}
	for name, bad := range map[string][]byte{
		"marker":          word(0, blobMarker+1),
		"more keys":       word(1, 4),
		"more targets":    word(2, 3),
		"a longer arena":  word(3, uint64(len(keys.arena))+8),
		"cut short":       payload[:len(payload)-8],
		"longer":          append(bytes.Clone(payload), make([]byte, 8)...),
		"ends not rising": word(4+4+2, 7|5<<32), // after 8 words of head and 2 of arena, ends 2 and 5 made 7 and 5
	} {
		aligned := append(make([]byte, 0, len(bad)+8), bad...)
		if _, err := decodeBlob(aligned, 2); err == nil {
			t.Errorf("%s: read back", name)
		}
	}
	if _, err := decodeBlob(payload, 1); err == nil {
		t.Error("read back for one target fewer")
	}
}
