package csv

import (
	"bufio"
	"bytes"
	stdcsv "encoding/csv"
	"errors"
	"io"
	"unicode/utf8"
	"unsafe"
)

// recordReader reads records as encoding/csv does with the settings
// Source uses (no comments, no lazy quotes, no trimming), but without
// copying them: a line with no quote in it, which is most lines of an HR
// export, is split where it lies in the read buffer. encoding/csv copies
// each record twice and allocates a string for it, and with the Arrow
// building after it that made reading the file the longest part of a
// steady plan. From the first line with a quote on, the rest of the file
// goes to encoding/csv, which unquotes; a test holds the two to the same
// records, errors and positions.
//
// The fields it returns are valid only until the next Read.
type recordReader struct {
	br *bufio.Reader
	// FieldsPerRecord is encoding/csv's: above 0, records with another
	// number of fields are errors; at 0 the first record sets it.
	FieldsPerRecord int
	comma           byte
	line            int    // lines read
	long            []byte // a line longer than br's buffer
	cut             string // what readLine took off the last line's end
	rec             []string
	cols            []int // rec's columns (1-based bytes)
	// utf8 says the last record's line is valid UTF-8 as a whole, so its
	// fields need no check of their own. Records from rest are not known
	// to be.
	utf8 bool
	// rest reads the file from the first line with a quote on; its line
	// 1 is this reader's line restLine+1.
	rest     *stdcsv.Reader
	restLine int
}

// newRecordReader reads r, split at comma. A comma of more than one byte
// (or one encoding/csv refuses) leaves the whole file to encoding/csv.
func newRecordReader(r io.Reader, comma rune) *recordReader {
	rr := &recordReader{br: bufio.NewReaderSize(r, 1<<20), comma: byte(comma)}
	if comma >= utf8.RuneSelf || comma == 0 || comma == '"' || comma == '\r' || comma == '\n' {
		rr.rest = stdcsv.NewReader(rr.br)
		rr.rest.Comma = comma
		rr.rest.ReuseRecord = true
	}
	return rr
}

// Read returns the next record, or io.EOF after the last. Like
// encoding/csv, a record whose field count is wrong comes back with a
// *csv.ParseError, and a syntax error costs only its record.
func (r *recordReader) Read() ([]string, error) {
	r.utf8 = false
	if r.rest != nil {
		return r.readRest()
	}
	for {
		line, err := r.readLine()
		if err != nil {
			return nil, err
		}
		if len(line) == lengthNL(line) {
			continue // encoding/csv skips empty lines
		}
		if bytes.IndexByte(line, '"') >= 0 {
			r.handOver(line)
			return r.readRest()
		}
		return r.split(line)
	}
}

// readLine is encoding/csv's: the next line with "\r\n" made "\n", and
// at the end of the file a last line without its newline, a trailing
// "\r" dropped. io.EOF comes only once nothing is left.
func (r *recordReader) readLine() ([]byte, error) {
	line, err := r.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		r.long = append(r.long[:0], line...)
		for errors.Is(err, bufio.ErrBufferFull) {
			line, err = r.br.ReadSlice('\n')
			r.long = append(r.long, line...)
		}
		line = r.long
	}
	n := len(line)
	r.cut = ""
	if n > 0 && err == io.EOF {
		err = nil
		if line[n-1] == '\r' {
			line, n, r.cut = line[:n-1], n-1, "\r"
		}
	}
	if err != nil {
		return nil, err
	}
	r.line++
	if n >= 2 && line[n-2] == '\r' && line[n-1] == '\n' {
		line[n-2] = '\n'
		line, r.cut = line[:n-1], "\r\n"
	}
	return line, nil
}

// raw is line as it was in the file, before readLine's changes.
func (r *recordReader) raw(line []byte) []byte {
	raw := bytes.Clone(line)
	if r.cut == "\r\n" {
		raw = raw[:len(raw)-1]
	}
	return append(raw, r.cut...)
}

func lengthNL(b []byte) int {
	if len(b) > 0 && b[len(b)-1] == '\n' {
		return 1
	}
	return 0
}

// split makes a record of a line without quotes, its fields pointing into
// the line.
func (r *recordReader) split(line []byte) ([]string, error) {
	body := line[:len(line)-lengthNL(line)]
	r.rec, r.cols = r.rec[:0], r.cols[:0]
	r.utf8 = utf8.Valid(body)
	col := 1
	for {
		i := bytes.IndexByte(body, r.comma)
		field := body
		if i >= 0 {
			field = body[:i]
		}
		r.rec = append(r.rec, unsafe.String(unsafe.SliceData(field), len(field)))
		r.cols = append(r.cols, col)
		if i < 0 {
			break
		}
		body, col = body[i+1:], col+i+1
	}
	switch {
	case r.FieldsPerRecord > 0 && len(r.rec) != r.FieldsPerRecord:
		return r.rec, &stdcsv.ParseError{StartLine: r.line, Line: r.line, Column: 1, Err: stdcsv.ErrFieldCount}
	case r.FieldsPerRecord == 0:
		r.FieldsPerRecord = len(r.rec)
	}
	return r.rec, nil
}

// handOver gives encoding/csv the rest of the file, starting with line.
func (r *recordReader) handOver(line []byte) {
	// As read, or encoding/csv would change it again: "\r\r\n" would lose
	// both its CRs.
	r.rest = stdcsv.NewReader(io.MultiReader(bytes.NewReader(r.raw(line)), r.br))
	r.rest.Comma = rune(r.comma) // a single byte, or rest would be set
	r.rest.ReuseRecord = true
	r.rest.FieldsPerRecord = r.FieldsPerRecord
	r.restLine = r.line - 1
}

// readRest reads a record from encoding/csv, its lines counted from the
// start of the file.
func (r *recordReader) readRest() ([]string, error) {
	r.rest.FieldsPerRecord = r.FieldsPerRecord
	rec, err := r.rest.Read()
	r.FieldsPerRecord = r.rest.FieldsPerRecord
	var pe *stdcsv.ParseError
	if errors.As(err, &pe) {
		moved := *pe
		moved.StartLine += r.restLine
		moved.Line += r.restLine
		err = &moved
	}
	return rec, err
}

// FieldPos is the line and column where field i of the record last read
// starts, as encoding/csv's FieldPos.
func (r *recordReader) FieldPos(i int) (line, column int) {
	if r.rest != nil {
		line, column = r.rest.FieldPos(i)
		return line + r.restLine, column
	}
	return r.line, r.cols[i]
}
