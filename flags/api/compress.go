package api

import (
	"bytes"
	"strconv"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/valyala/fasthttp"
)

// encoding is a content coding the API answers with.
type encoding uint8

const (
	encIdentity encoding = iota
	encGzip
	encZstd
)

var (
	hdrGzip = []byte("gzip")
	hdrZstd = []byte("zstd")
)

// chooseEncoding picks the coding of an answer from Accept-Encoding: zstd
// when its quality is at least gzip's, else gzip, else identity. A quality
// of 0 refuses a coding; "*" stands for codings not named.
func chooseEncoding(accept []byte) encoding {
	if len(accept) == 0 {
		return encIdentity
	}
	qGzip, qZstd, qStar := -1.0, -1.0, -1.0
	for len(accept) > 0 {
		var item []byte
		if i := bytes.IndexByte(accept, ','); i >= 0 {
			item, accept = accept[:i], accept[i+1:]
		} else {
			item, accept = accept, nil
		}
		name, params, _ := bytes.Cut(item, []byte(";"))
		name = bytes.TrimSpace(name)
		q := 1.0
		if p := bytes.TrimSpace(params); len(p) > 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=' {
			if v, err := strconv.ParseFloat(b2s(p[2:]), 64); err == nil {
				q = v
			}
		}
		switch {
		case bytes.EqualFold(name, hdrGzip), bytes.EqualFold(name, []byte("x-gzip")):
			qGzip = q
		case bytes.EqualFold(name, hdrZstd):
			qZstd = q
		case len(name) == 1 && name[0] == '*':
			qStar = q
		}
	}
	if qGzip < 0 {
		qGzip = qStar
	}
	if qZstd < 0 {
		qZstd = qStar
	}
	switch {
	case qZstd > 0 && qZstd >= qGzip:
		return encZstd
	case qGzip > 0:
		return encGzip
	}
	return encIdentity
}

// Compressors. The dynamic ones favour speed (answers are evaluated per
// request); the cached ones favour size (they are built once).
var (
	gzipFast = sync.Pool{New: func() any {
		w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
		return w
	}}
	zstdFast = sync.OnceValue(func() *zstd.Encoder {
		e, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithLowerEncoderMem(true))
		return e
	})
	zstdBest = sync.OnceValue(func() *zstd.Encoder {
		e, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBetterCompression), zstd.WithEncoderConcurrency(1))
		return e
	})
)

// compressFast appends the fast gzip or zstd encoding of body to dst.
func compressFast(dst []byte, sw *sliceWriter, body []byte, enc encoding) []byte {
	switch enc {
	case encZstd:
		return zstdFast().EncodeAll(body, dst)
	case encGzip:
		zw := gzipFast.Get().(*gzip.Writer)
		sw.b = dst
		zw.Reset(sw)
		_, _ = zw.Write(body)
		_ = zw.Close()
		zw.Reset(nil)
		gzipFast.Put(zw)
		out := sw.b
		sw.b = nil
		return out
	}
	return append(dst, body...)
}

// compressBest returns the best-effort gzip or zstd encoding of body, for
// cached answers.
func compressBest(body []byte, enc encoding) []byte {
	switch enc {
	case encZstd:
		return zstdBest().EncodeAll(body, make([]byte, 0, len(body)/3+64))
	case encGzip:
		var sw sliceWriter
		sw.b = make([]byte, 0, len(body)/3+64)
		zw, _ := gzip.NewWriterLevel(&sw, gzip.BestCompression)
		_, _ = zw.Write(body)
		_ = zw.Close()
		return sw.b
	}
	return body
}

// writeDynamic answers 200 with a body evaluated for this request: it sets
// the strong ETag, answers 304 on a matching If-None-Match, and otherwise
// sends body (copied) compressed as the client accepts.
func (h *Handler) writeDynamic(ctx *fasthttp.RequestCtx, st *reqState, body []byte) {
	etag := appendETag(st.etag[:0], body)
	resp := &ctx.Response
	resp.Header.SetBytesV("ETag", etag)
	compressible := h.minCompress > 0 && len(body) >= h.minCompress
	if compressible {
		st.vary |= varyEncoding
	}
	setVary(ctx, st.vary)
	if inm := ctx.Request.Header.Peek("If-None-Match"); len(inm) > 0 && noneMatch(inm, etag) {
		ctx.SetStatusCode(fasthttp.StatusNotModified)
		resp.ResetBody()
		return
	}
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentTypeBytes(contentJSON)
	if compressible {
		if enc := chooseEncoding(ctx.Request.Header.Peek("Accept-Encoding")); enc != encIdentity {
			st.enc = compressFast(st.enc[:0], &st.sw, body, enc)
			setEncoding(resp, enc)
			resp.SetBody(st.enc)
			return
		}
	}
	resp.SetBody(body)
}

func setEncoding(resp *fasthttp.Response, enc encoding) {
	switch enc {
	case encGzip:
		resp.Header.SetContentEncodingBytes(hdrGzip)
	case encZstd:
		resp.Header.SetContentEncodingBytes(hdrZstd)
	}
}
