package snapshots

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
)

var indexBenchRecords = flag.Int("index.records", 1_000_000, "records in BenchmarkIndexFile's file")

// BenchmarkIndexFile measures, for several block sizes, what a full plan
// does with a target's index file (check it whole, then read it) and
// what a delta does (look up 10,000 keys in order, from a fresh table, as
// a new process would).
func BenchmarkIndexFile(b *testing.B) {
	defer func(n int) { indexBlock = n }(indexBlock)
	n := *indexBenchRecords
	entry := (&Entry{ID: "1234567", Hash: 42}).encode()
	r := rand.New(rand.NewPCG(8, 8))
	var probe []string
	for range 10_000 {
		probe = append(probe, fmt.Sprintf("E%08d", r.IntN(n)))
	}
	slices.Sort(probe)
	for _, block := range []int{4 << 10, 16 << 10, 64 << 10} {
		indexBlock = block
		path := filepath.Join(b.TempDir(), "1.idx")
		w, err := createIndexFile(path, false)
		if err != nil {
			b.Fatal(err)
		}
		for i := range n {
			if err := w.add(fmt.Appendf(nil, "E%08d", i), entry); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.finish(); err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("block=%dK/full", block>>10), func(b *testing.B) {
			for b.Loop() {
				if err := checkIndexFile(path); err != nil {
					b.Fatal(err)
				}
				seen := 0
				if err := readMerged(path, nil, func(_, _ []byte) error { seen++; return nil }); err != nil || seen != n {
					b.Fatal(seen, err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/record")
		})
		b.Run(fmt.Sprintf("block=%dK/lookup", block>>10), func(b *testing.B) {
			for b.Loop() {
				tb := &indexTable{path: path}
				if err := tb.load(); err != nil {
					b.Fatal(err)
				}
				rd := newTableReader(tb)
				for _, k := range probe {
					if _, ok, err := rd.find(k); !ok || err != nil {
						b.Fatal(k, ok, err)
					}
				}
				rd.done()
				tb.close()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(probe)), "ns/lookup")
		})
	}
}
