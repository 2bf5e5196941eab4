package pipeline

import (
	"context"
	"errors"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/idsync/idsync/connectors"
	"github.com/idsync/idsync/connectors/batch"
	"github.com/idsync/idsync/pipeline/config"
)

// endlessSource emits batches until its context ends, rejecting one
// record after the first. It counts what it read, so a test can see it read ahead.
type endlessSource struct {
	alloc  memory.Allocator
	reject connectors.RejectFunc
	read   chan int
}

func (s *endlessSource) Name() string { return "endless.csv" }

func (s *endlessSource) Schema() *arrow.Schema {
	return batch.Schema([]batch.Column{{Name: "id", Type: batch.String}}, false)
}

func (s *endlessSource) Read(ctx context.Context, emit func(arrow.RecordBatch) error) error {
	b := batch.NewBuilder([]batch.Column{{Name: "id", Type: batch.String}}, false, batch.Options{Rows: 2, Allocator: s.alloc})
	defer b.Release()
	for n := 0; ; n++ {
		b.Begin()
		if err := b.SetText(0, "k"); err != nil {
			return err
		}
		if rec := b.Commit(int64(n+3), false); rec != nil {
			err := emit(rec)
			rec.Release()
			if err != nil {
				return err
			}
			select {
			case s.read <- n:
			default:
			}
			if n == 1 {
				// Blocks until prepare is done.
				s.reject(&connectors.RecordError{File: s.Name(), Line: 2, Field: "id", Key: "k0", Reason: "bad"})
			}
		}
	}
}

// TestReadParallelReadsAheadAndStopsWhenPrepareFails checks the read-ahead
// that overlaps a source's parsing with loading the state index: the
// source runs while prepare does, a reject waits for prepare instead of
// touching the seen set before it exists, and a failed prepare ends the
// read with its error and every batch released.
func TestReadParallelReadsAheadAndStopsWhenPrepareFails(t *testing.T) {
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	e := &Engine{opts: Options{Progress: noProgress{}}}
	sr := &sourceRun{s: &source{cfg: &config.Source{Name: "hr"}}, dups: map[string][]int64{}, ready: make(chan struct{})}
	src := &endlessSource{alloc: alloc, reject: sr.reject, read: make(chan int, 1)}
	broken := errors.New("index: broken store")
	err := e.readParallel(context.Background(), sr, src, nil, func() error {
		<-src.read // the source is reading while the index loads
		return broken
	})
	if !errors.Is(err, broken) {
		t.Fatalf("readParallel = %v, want the prepare error", err)
	}
	if len(sr.rejects) != 1 || sr.rejects[0].Key != "k0" {
		t.Errorf("rejects = %+v, want the one reject, recorded after prepare", sr.rejects)
	}
	alloc.AssertSize(t, 0)
}
