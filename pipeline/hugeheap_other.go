//go:build !linux

package pipeline

// adviseHugeHeap does nothing here: the advice is Linux's madvise (see
// hugeheap.go).
func adviseHugeHeap(size int64) bool { return false }
