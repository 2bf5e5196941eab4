//go:build unix

package connectors

import (
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestEstimateLinesLeavesNamedPipesAlone: a named pipe is not opened at
// all. Opening it would wait for a writer, and closing it again could
// leave the writer with no reader.
func TestEstimateLinesLeavesNamedPipesAlone(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "hr.csv")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan int, 1)
	go func() { done <- EstimateLines(fifo) }()
	select {
	case got := <-done:
		if got != -1 {
			t.Errorf("EstimateLines of a named pipe = %d, want -1", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("EstimateLines opened a named pipe and is waiting for a writer")
	}
}
