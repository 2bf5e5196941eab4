package snapshots

import (
	"os"
	"path/filepath"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/table"
)

// A trim leaves each table's block index mapped: every seek into a table
// binary-searches it, and opening the store has just read all of it to
// check its checksum. Dropping it made each seek fault it in again. On
// the bench's host a fault costs about 30 µs, and a 10k-record delta plan
// on the 10M state took 26.5k faults with the indexes dropped against
// 23k kept.
//
// The index is the end of a table file (Badger's table.initIndex reads it
// back from there): [blocks][index][uint32 len][checksum][uint32 len].
// It is a flatbuffer, built back to front: the block offsets, which seeks
// read, were written first and so sit last; the bloom filter before them,
// which only point reads consult; the root table first. So a trim keeps
// the index's first bytes and its tail past the bloom filter, and drops
// the filter: at 10M identities the indexes are 213 MB, 95 MB of it
// filters. Were the layout ever to differ, a trim would only keep the
// wrong pages mapped, or drop pages a seek faults in again: the data is
// read the same either way.

// indexFooter bounds the bytes after a table's index: two lengths and a
// small checksum message.
const indexFooter = 64

// indexRoot bounds the flatbuffer's root table and its vtable, at the
// index's start.
const indexRoot = 256

// span is a range of a file's bytes, [from, to).
type span struct{ from, to int64 }

// tableKeeps is what a trim leaves mapped of each of tables in dir, by
// file name; a table whose size cannot be read is dropped whole.
func tableKeeps(dir string, tables []badger.TableInfo) map[string][]span {
	keeps := make(map[string][]span, len(tables))
	for _, t := range tables {
		name := table.IDToFilename(t.ID)
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			continue
		}
		if k := indexKeep(fi.Size(), int64(t.IndexSz), int64(t.BloomFilterSize), int64(os.Getpagesize())); k != nil {
			keeps[name] = k
		}
	}
	return keeps
}

// indexKeep is what to keep mapped of a table file of size bytes whose
// index is indexLen bytes, bloomLen of them the bloom filter: whole
// pages, in order, not overlapping.
func indexKeep(size, indexLen, bloomLen, page int64) []span {
	if indexLen <= 0 || bloomLen < 0 || bloomLen >= indexLen || indexLen+indexFooter > size {
		return nil
	}
	start := size - indexLen - indexFooter // at or before the index's first byte
	root := span{start, start + indexFooter + indexRoot}
	offsets := span{size - (indexLen - bloomLen) - indexFooter, size}
	root.from, root.to = root.from/page*page, min((root.to+page-1)/page*page, size)
	offsets.from = offsets.from / page * page
	if root.to >= offsets.from {
		return []span{{root.from, size}}
	}
	return []span{root, offsets}
}

// dropped is the parts of a mapping of n bytes from a file's start that a
// trim drops, given the parts it keeps.
func dropped(n int64, keep []span) []span {
	var out []span
	at := int64(0)
	for _, k := range keep {
		if k.from > at {
			out = append(out, span{at, min(k.from, n)})
		}
		at = max(at, k.to)
		if at >= n {
			return out
		}
	}
	return append(out, span{at, n})
}
