package http1

import (
	"bytes"
	"io"
)

// memReader reads the bytes of one OnData call; pos is how far the
// bufio.Reader above it has read.
type memReader struct {
	b   []byte
	pos int
}

func (r *memReader) reset(b []byte) { r.b, r.pos = b, 0 }

func (r *memReader) Read(p []byte) (int, error) {
	if r.pos >= len(r.b) {
		return 0, io.EOF
	}
	n := copy(p, r.b[r.pos:])
	r.pos += n
	return n, nil
}

// headerEnd returns the length of the request line and headers at the
// front of b, through the empty line that ends them (CRLF or bare LF
// line ends), or -1 when that line has not arrived. fasthttp parses the
// headers; this only tells whether parsing can complete.
func headerEnd(b []byte) int {
	end := -1
	if i := bytes.Index(b, crlfEnd); i >= 0 {
		end = i + len(crlfEnd)
	}
	lim := b
	if end >= 0 {
		lim = b[:end]
	}
	if i := bytes.Index(lim, lfEnd); i >= 0 && (end < 0 || i+len(lfEnd) < end) {
		end = i + len(lfEnd)
	}
	return end
}

var (
	crlfEnd = []byte("\n\r\n")
	lfEnd   = []byte("\n\n")
)
