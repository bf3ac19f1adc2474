package api

import (
	"sync"

	"github.com/brink-edge/brink/flags"
)

// reqState is the pooled per-request scratch space: the evaluation
// Context and the buffers answers are built in. It is owned by one request
// from acquireState to releaseState; nothing in it may be retained after.
type reqState struct {
	fctx flags.Context
	// body receives evaluated answers; enc their compressed form.
	body, enc []byte
	// path holds a normalised request path when it needed rewriting.
	path []byte
	// key builds cache keys.
	key []byte
	// ip holds the text of the client address.
	ip []byte
	// sig holds the text of the connection-signal properties.
	sig []byte
	// etag holds the quoted ETag of the answer.
	etag [18]byte
	// sw adapts enc to io.Writer for the gzip writer.
	sw sliceWriter
	// vary records the Vary members the answer needs.
	vary uint8
}

// maxPooledBuffer is the capacity above which a buffer is dropped rather
// than pooled, so one huge answer does not pin memory.
const maxPooledBuffer = 1 << 20

var statePool = sync.Pool{New: func() any {
	return &reqState{
		body: make([]byte, 0, 4096),
		key:  make([]byte, 0, 128),
		sig:  make([]byte, 0, 128),
		ip:   make([]byte, 0, 64),
		fctx: flags.Context{Properties: make([]flags.Property, 0, 8)},
	}
}}

func acquireState() *reqState { return statePool.Get().(*reqState) }

func releaseState(st *reqState) {
	st.fctx.Reset()
	st.vary = 0
	if cap(st.body) > maxPooledBuffer {
		st.body = make([]byte, 0, 4096)
	}
	if cap(st.enc) > maxPooledBuffer {
		st.enc = nil
	}
	st.sw.b = nil
	statePool.Put(st)
}

// sliceWriter is an io.Writer appending to a byte slice.
type sliceWriter struct{ b []byte }

func (w *sliceWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}
