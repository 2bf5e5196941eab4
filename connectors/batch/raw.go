package batch

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/endian"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// rawColumn builds a string or 64-bit column (timestamps, positions)
// straight into its Arrow buffers. Arrow's builders check and grow their
// buffers on every append, behind an interface: appending was a third of
// reading a CSV file into batches, as much as parsing it.
type rawColumn struct {
	typ   arrow.DataType
	str   bool      // a string column: offsets and bytes; else 8-byte values
	valid rawBuffer // the validity bitmap, made at the batch's first null
	offs  rawBuffer // strings: rows+1 int32 offsets into data
	data  rawBuffer // strings: their bytes; else the values
	rows  int
	nulls int
	hint  int // data bytes the last batch held
}

// rawBuffer is an allocator's buffer filled from the front.
type rawBuffer struct {
	buf *memory.Buffer
	b   []byte // buf's bytes, all of its capacity
	n   int    // bytes filled
}

func newRawColumn(typ arrow.DataType) *rawColumn {
	return &rawColumn{typ: typ, str: typ.ID() == arrow.STRING}
}

// reserve makes room in x for extra more bytes. It is small enough to
// inline: every appended field calls it twice, and the call was a fifth of
// appending.
func (x *rawBuffer) reserve(mem memory.Allocator, extra int) {
	if x.n+extra > len(x.b) || x.buf == nil {
		x.grow(mem, extra)
	}
}

// grow reallocates: at least double, so that a batch larger than its
// reserve grows a few times, not every append.
func (x *rawBuffer) grow(mem memory.Allocator, extra int) {
	if x.buf == nil {
		x.buf = memory.NewResizableBuffer(mem)
	}
	if x.n+extra > len(x.b) {
		x.buf.Reserve(max(2*len(x.b), x.n+extra, 64))
		x.b = x.buf.Buf()
	}
}

// take hands the filled bytes over as a buffer of their own; x starts
// empty.
func (x *rawBuffer) take() *memory.Buffer {
	b := x.buf
	if b != nil {
		b.ResizeNoShrink(x.n)
	}
	*x = rawBuffer{}
	return b
}

func (x *rawBuffer) release() {
	if x.buf != nil {
		x.buf.Release()
	}
	*x = rawBuffer{}
}

// begin starts a batch of about rows rows.
func (c *rawColumn) begin(mem memory.Allocator, rows int) {
	if c.str {
		c.offs.reserve(mem, (rows+1)*4)
		c.offs.n = 4
		endian.Native.PutUint32(c.offs.b, 0)
		c.data.reserve(mem, c.hint)
		return
	}
	c.data.reserve(mem, rows*8)
}

func (c *rawColumn) appendText(mem memory.Allocator, s string) {
	c.data.reserve(mem, len(s))
	c.data.n += copy(c.data.b[c.data.n:], s)
	c.offs.reserve(mem, 4)
	endian.Native.PutUint32(c.offs.b[c.offs.n:], uint32(c.data.n))
	c.offs.n += 4
	c.valued(mem)
}

func (c *rawColumn) appendInt(mem memory.Allocator, v int64) {
	c.data.reserve(mem, 8)
	endian.Native.PutUint64(c.data.b[c.data.n:], uint64(v))
	c.data.n += 8
	c.valued(mem)
}

func (c *rawColumn) appendNull(mem memory.Allocator) {
	if c.valid.buf == nil {
		// The batch's first null: every row before it had a value.
		c.valid.reserve(mem, int(bitutil.BytesForBits(int64(c.rows+1))))
		for i := range c.rows {
			bitutil.SetBit(c.valid.b, i)
		}
	}
	c.setValid(mem, false)
	c.nulls++
	if c.str {
		c.offs.reserve(mem, 4)
		endian.Native.PutUint32(c.offs.b[c.offs.n:], uint32(c.data.n))
		c.offs.n += 4
	} else {
		c.appendValueBytes(mem)
	}
	c.rows++
}

// appendValueBytes puts a null's zero value.
func (c *rawColumn) appendValueBytes(mem memory.Allocator) {
	c.data.reserve(mem, 8)
	clear(c.data.b[c.data.n : c.data.n+8])
	c.data.n += 8
}

// valued ends a row that has a value.
func (c *rawColumn) valued(mem memory.Allocator) {
	if c.valid.buf != nil {
		c.setValid(mem, true)
	}
	c.rows++
}

// setValid sets the bitmap's bit of the row being appended.
func (c *rawColumn) setValid(mem memory.Allocator, ok bool) {
	if need := int(bitutil.BytesForBits(int64(c.rows + 1))); need > c.valid.n {
		c.valid.reserve(mem, need-c.valid.n)
		c.valid.n = need
	}
	bitutil.SetBitTo(c.valid.b, c.rows, ok)
}

// finish returns the batch's array and leaves the column empty.
func (c *rawColumn) finish() arrow.Array {
	if c.str {
		c.hint = c.data.n + c.data.n/16 // a little over, for longer values
	}
	var validity *memory.Buffer
	if c.nulls > 0 {
		validity = c.valid.take()
	}
	c.valid.release()
	bufs := []*memory.Buffer{validity, c.data.take()}
	if c.str {
		bufs = []*memory.Buffer{validity, c.offs.take(), bufs[1]}
	}
	d := array.NewData(c.typ, c.rows, bufs, nil, c.nulls, 0)
	for _, b := range bufs {
		if b != nil {
			b.Release() // the data holds them now
		}
	}
	arr := array.MakeFromData(d)
	d.Release()
	c.rows, c.nulls = 0, 0
	return arr
}

// release frees what the column holds.
func (c *rawColumn) release() {
	c.valid.release()
	c.offs.release()
	c.data.release()
}
