package snapshots

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"github.com/dgraph-io/badger/v4/fb"
	flatbuffers "github.com/google/flatbuffers/go"
	"github.com/google/go-cmp/cmp"
)

// TestIndexKeep: the parts of a table file a trim keeps are whole pages,
// in order, apart, and hold the index's first bytes and its tail past the
// bloom filter.
func TestIndexKeep(t *testing.T) {
	const page = 4096
	for _, c := range []struct {
		name               string
		size, index, bloom int64
		spans              int
	}{
		{name: "a large filter is dropped", size: 64 << 20, index: 600 << 10, bloom: 250 << 10, spans: 2},
		{name: "a filter under a page", size: 1 << 20, index: 20 << 10, bloom: 1000, spans: 1},
		{name: "no filter", size: 1 << 20, index: 20 << 10, spans: 1},
		{name: "an index of the whole file but its footer", size: 1 << 20, index: 1<<20 - indexFooter, bloom: 100 << 10, spans: 2},
	} {
		got := indexKeep(c.size, c.index, c.bloom, page)
		if len(got) != c.spans {
			t.Fatalf("%s: %v, want %d spans", c.name, got, c.spans)
		}
		for i, s := range got {
			if s.from%page != 0 || (s.to%page != 0 && s.to != c.size) || s.from >= s.to || i > 0 && s.from <= got[i-1].to {
				t.Errorf("%s: span %d of %v is not whole pages, in order and apart", c.name, i, got)
			}
		}
		start := c.size - c.index - indexFooter
		if !covered(got, span{max(start, 0), start + indexFooter + indexRoot}) {
			t.Errorf("%s: %v leaves out the index's root", c.name, got)
		}
		if !covered(got, span{c.size - (c.index - c.bloom) - indexFooter, c.size}) {
			t.Errorf("%s: %v leaves out the block offsets", c.name, got)
		}
		if kept := keptBytes(got); c.spans == 2 && kept > c.index-c.bloom+indexFooter+indexRoot+3*page {
			t.Errorf("%s: keeps %d bytes, more than the index without its filter", c.name, kept)
		}
	}
	for _, bad := range [][3]int64{{1 << 20, 0, 0}, {1 << 20, 1000, 1000}, {1 << 20, 1000, -1}, {1000, 1000, 0}} {
		if got := indexKeep(bad[0], bad[1], bad[2], page); got != nil {
			t.Errorf("indexKeep%v = %v, want nothing kept", bad, got)
		}
	}
}

// TestDropped: what a trim drops of a mapping is the rest of it.
func TestDropped(t *testing.T) {
	for _, c := range []struct {
		n    int64
		keep []span
		want []span
	}{
		{100, nil, []span{{0, 100}}},
		{100, []span{{10, 20}, {50, 100}}, []span{{0, 10}, {20, 50}}},
		{100, []span{{0, 20}, {50, 60}}, []span{{20, 50}, {60, 100}}},
		{40, []span{{10, 20}, {50, 100}}, []span{{0, 10}, {20, 40}}}, // a mapping shorter than the file
		{15, []span{{10, 20}, {50, 100}}, []span{{0, 10}}},
	} {
		if got := dropped(c.n, c.keep); !cmp.Equal(got, c.want, cmp.AllowUnexported(span{})) {
			t.Errorf("dropped(%d, %v) = %v, want %v", c.n, c.keep, got, c.want)
		}
	}
}

// TestTrimsKeepTheBlockIndex: on a real table, what a trim keeps holds
// the index's root and every block offset with its key, which each seek
// reads, and not the bloom filter; and a trim leaves no more than that
// mapped. This is the test that fails if Badger lays its tables out
// otherwise.
func TestTrimsKeepTheBlockIndex(t *testing.T) {
	dir, want := trimmedTables(t)
	s, err := Open(dir, Options{NoCompactions: true})
	must(t, err)
	defer s.Close()
	if len(s.trim.keep) == 0 {
		t.Fatal("no table's index is kept")
	}
	var kept int64
	for name, keep := range s.trim.keep {
		kept += keptBytes(keep)
		data, err := os.ReadFile(filepath.Join(dir, name))
		must(t, err)
		// [index][uint32 len][checksum][uint32 len], lengths big-endian.
		size := len(data)
		chk := int(binary.BigEndian.Uint32(data[size-4:]))
		n := int(binary.BigEndian.Uint32(data[size-8-chk:]))
		start := size - 8 - chk - n
		index := data[start : start+n]
		idx := fb.GetRootAsTableIndex(index, 0)
		at := func(b []byte) int64 {
			return int64(start) + int64(uintptr(unsafe.Pointer(unsafe.SliceData(b)))-uintptr(unsafe.Pointer(unsafe.SliceData(index))))
		}
		root := idx.Table()
		if p := int64(start) + int64(root.Pos); !covered(keep, span{p, p + 16}) {
			t.Errorf("%s: the index's root at %d is not kept (%v)", name, p, keep)
		}
		// The vector of the block offsets, the index's first field.
		vec := int64(start) + int64(root.Vector(flatbuffers.UOffsetT(root.Offset(4))))
		if !covered(keep, span{vec, vec + 4*int64(idx.OffsetsLength())}) {
			t.Errorf("%s: the vector of block offsets at %d is not kept (%v)", name, vec, keep)
		}
		var bo fb.BlockOffset
		for j := range idx.OffsetsLength() {
			idx.Offsets(&bo, j)
			key := bo.KeyBytes()
			if p := int64(start) + int64(bo.Table().Pos); !covered(keep, span{p, p + 8}) || !covered(keep, span{at(key), at(key) + int64(len(key))}) {
				t.Fatalf("%s: block offset %d at %d is not kept (%v)", name, j, p, keep)
			}
		}
		bloom := idx.BloomFilterBytes()
		if len(bloom) < 4*os.Getpagesize() {
			t.Fatalf("%s: a bloom filter of %d bytes is too small to tell", name, len(bloom))
		}
		if in := overlap(keep, span{at(bloom), at(bloom) + int64(len(bloom))}); in > int64(2*os.Getpagesize()) {
			t.Errorf("%s: %d bytes of the %d-byte bloom filter are kept", name, in, len(bloom))
		}
	}
	if got := dump(t, s, objectPrefix("t")); !cmp.Equal(got, want) {
		t.Fatal("entries differ from those written")
	}
	s.TrimMapped()
	if after := tableRSS(t, dir); after == 0 || after > kept {
		t.Errorf("%d bytes of tables mapped after the trim; it keeps %d", after, kept)
	}
}

// covered says whether keep holds all of s.
func covered(keep []span, s span) bool { return overlap(keep, s) == s.to-s.from }

// overlap is how many bytes of s keep holds.
func overlap(keep []span, s span) int64 {
	var n int64
	for _, k := range keep {
		n += max(0, min(k.to, s.to)-max(k.from, s.from))
	}
	return n
}

// keptBytes is how much of a mapping keep holds, in whole pages: a file's
// last page is mapped whole.
func keptBytes(keep []span) int64 {
	page := int64(os.Getpagesize())
	var n int64
	for _, k := range keep {
		n += (k.to+page-1)/page*page - k.from
	}
	return n
}
