package mmapfile

import "io"

// WriteChunk is the size of the writes a Writer makes. Linux (ext4 since
// 6.16, xfs) caches data written in aligned chunks of 2 MiB or more in
// 2 MiB folios, which a later mapping of the file gets as huge pages
// (see adviseHugePages); data written in smaller pieces is cached in small
// folios and mapped with 4 KiB pages until it leaves the page cache.
const WriteChunk = 4 << 20

// Writer buffers writes to a file so that they reach it in WriteChunk-sized
// writes at offsets that are multiples of WriteChunk, whatever the sizes of
// the writes it is given: model files written through it are mapped with
// huge pages right after they are written. It deliberately has no
// ReadFrom, which would let io.Copy bypass the buffer. Call Flush at the
// end; a Writer is not safe for concurrent use.
type Writer struct {
	w     io.Writer
	buf   []byte
	n     int   // bytes buffered
	limit int   // the buffer is flushed when n reaches limit
	off   int64 // file offset of buf[0]
	err   error // sticky: the first write error
}

// NewWriter returns a Writer that writes to w, whose current file offset
// is offset (0 for a new file; a resumed download starts at its size).
func NewWriter(w io.Writer, offset int64) *Writer {
	bw := &Writer{w: w, buf: make([]byte, WriteChunk), off: offset}
	bw.limit = WriteChunk - int(offset%WriteChunk)
	return bw
}

// Write buffers p, writing out every chunk it completes.
func (w *Writer) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		if w.err != nil {
			return written, w.err
		}
		c := copy(w.buf[w.n:w.limit], p)
		w.n += c
		p = p[c:]
		written += c
		if w.n == w.limit {
			w.flush()
		}
	}
	return written, w.err
}

// Flush writes out what is buffered (a chunk shorter than WriteChunk only
// at the end of the file or before an error).
func (w *Writer) Flush() error {
	if w.err == nil && w.n > 0 {
		w.flush()
	}
	return w.err
}

func (w *Writer) flush() {
	n, err := w.w.Write(w.buf[:w.n])
	if err == nil && n < w.n {
		err = io.ErrShortWrite
	}
	if err != nil {
		w.err = err
		return
	}
	w.off += int64(w.n)
	w.n = 0
	w.limit = WriteChunk - int(w.off%WriteChunk)
}
