package connectors

import (
	"bytes"
	"io"
	"os"
)

// Estimator is a Source that can guess, before reading, how many records a
// read will bring. It is a hint for sizing tables and showing progress,
// never a bound: a read may bring more or fewer.
type Estimator interface {
	// EstimateRecords returns the guess, or -1 when it cannot tell.
	EstimateRecords() int
}

// estimateSample is how much of a file EstimateLines reads: enough lines
// of a typical export to average over, and one read.
const estimateSample = 256 << 10

// EstimateLines guesses how many lines the file at path holds from its size
// and the average length of the lines in its first estimateSample bytes.
// It returns -1 when the file cannot be read or holds no line end in the
// sample (one huge line, or an empty file).
func EstimateLines(path string) int {
	// Stat before opening: opening a named pipe would wait for its
	// writer, and closing it again could leave the writer with no reader.
	if info, err := os.Stat(path); err != nil || !info.Mode().IsRegular() {
		return -1
	}
	f, err := os.Open(path)
	if err != nil {
		return -1
	}
	defer f.Close() //nolint:errcheck // read-only: nothing to lose on close
	info, err := f.Stat()
	if err != nil || !info.Mode().IsRegular() {
		return -1
	}
	buf := make([]byte, min(info.Size(), estimateSample))
	n, err := io.ReadFull(f, buf)
	if err != nil {
		return -1
	}
	if int64(n) == info.Size() {
		// All of it was read: count, don't guess. A last line with no
		// line end is a line too.
		lines := bytes.Count(buf, []byte{'\n'})
		if n > 0 && buf[n-1] != '\n' {
			lines++
		}
		return lines
	}
	lines := bytes.Count(buf, []byte{'\n'})
	if lines == 0 {
		return -1
	}
	return int(info.Size() * int64(lines) / int64(n))
}
