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
// headers; this only tells whether parsing can complete. It looks at each
// line end once: the first LF followed by LF or CRLF ends the headers.
func headerEnd(b []byte) int {
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return -1
		}
		i += j + 1
		switch {
		case i < len(b) && b[i] == '\n':
			return i + 1
		case i+1 < len(b) && b[i] == '\r' && b[i+1] == '\n':
			return i + 2
		}
	}
}
