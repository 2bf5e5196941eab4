package snapshots

import (
	"fmt"
	"testing"
)

// BenchmarkScan measures the in-order index scan planning starts with.
func BenchmarkScan(b *testing.B) {
	s, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const n = 20000
	changes := make([]Change, 0, 1000)
	for i := range n {
		changes = append(changes, Change{Entry: Entry{Key: fmt.Sprintf("E%07d", i), ID: fmt.Sprint(i), Hash: uint64(i) + 1, Attrs: []byte(`{"a":"b"}`)}})
		if len(changes) == cap(changes) {
			if err := s.Commit("dir", changes...); err != nil {
				b.Fatal(err)
			}
			changes = changes[:0]
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		count := 0
		if err := s.Scan("dir", false, func(Entry) error { count++; return nil }); err != nil || count != n {
			b.Fatalf("scan: %d entries, %v", count, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/key")
}
