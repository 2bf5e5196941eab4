package csv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
)

// BenchmarkRead reads 100k records of an HR export into batches, which
// are dropped: the parse and the Arrow building a plan pays for.
func BenchmarkRead(b *testing.B) {
	path := filepath.Join(b.TempDir(), "hr.csv")
	var sb strings.Builder
	sb.WriteString("id,name,hired,level\n")
	const rows = 100_000
	for i := range rows {
		fmt.Fprintf(&sb, "E%d,%s %s,2021-06-%02d,%d\n", 100000+i, strings.Repeat("a", 3+i%9), strings.Repeat("b", 4+i%7), 1+i%28, i%7)
	}
	if err := os.WriteFile(path, []byte(sb.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	src, err := New(Options{Path: path, Key: "id", Columns: cols})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(sb.Len()))
	for b.Loop() {
		n := 0
		err := src.Read(context.Background(), func(rec arrow.RecordBatch) error {
			n += int(rec.NumRows())
			return nil
		})
		if err != nil || n != rows {
			b.Fatalf("read %d records, err %v", n, err)
		}
	}
}
