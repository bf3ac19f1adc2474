package http1

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// Upstream answer framing for the byte-forwarding reverse proxy.
//
// The proxy never decodes an upstream answer's body: it forwards the bytes
// as they arrive and only needs to know, for each answer, where the head
// ends (to rewrite it for the client), how the body is delimited, and
// exactly where the answer ends, so the upstream connection can carry the
// next request. RespFrame does that in two steps. ParseHead validates the
// status line and each header field line as it completes (RFC 9112 §4 and
// §5, strictly: no obs-fold, no whitespace before ':', no control
// characters), and at the empty line decides the framing by RFC 9112 §6.3: no body for a HEAD request or
// a 1xx, 204 or 304 status; Transfer-Encoding over Content-Length; a
// Transfer-Encoding whose final coding is not chunked, or any on an
// HTTP/1.0 answer, reads until close. AppendClientHead then writes the
// client's head from the same bytes, without the hop-by-hop fields.
// Body is an incremental state machine over the body bytes that counts
// Content-Length bytes or walks chunk-size lines, chunk data and the
// trailer section; it keeps a few words of state, so the bytes may split
// anywhere (even one at a time) and need not be kept between calls.
//
// Allocation: ParseHead, AppendClientHead (with a dst of enough capacity)
// and Body allocate nothing on success; only the error paths build a
// wrapped error naming the bad input. A RespFrame is not safe for
// concurrent use: it belongs to one upstream connection, on its loop.
//
// Leniency is chosen where the peer is an origin server we forward for:
// bare LF line ends are accepted in the head, in chunk-size lines, after
// chunk data and in trailers (what we forward is the upstream's exact
// bytes, so a client that is stricter fails rather than reading a
// different answer), and equal duplicate Content-Length values are merged.
// Everything that could make two parsers disagree on the answer's end is an
// error: conflicting or malformed Content-Length, "chunked" applied twice,
// bad chunk sizes, a chunk not followed by its line end.

// Sentinel errors of RespFrame; the errors returned wrap one of them with
// the offending input.
var (
	// ErrRespMalformed reports an upstream head that is not valid HTTP/1.x.
	ErrRespMalformed = errors.New("http1: malformed upstream answer")
	// ErrRespHeadTooLarge reports an upstream head that does not fit the
	// caller's bound.
	ErrRespHeadTooLarge = errors.New("http1: upstream answer head too large")
	// ErrRespUpgrade reports a 101 Switching Protocols answer, which the
	// proxy never asks for.
	ErrRespUpgrade = errors.New("http1: upstream answer switches protocols")
	// ErrRespChunk reports malformed chunked framing in an upstream body.
	ErrRespChunk = errors.New("http1: malformed chunked upstream body")
)

// Framing is how an upstream answer's body is delimited.
type Framing uint8

// Framings, by RFC 9112 §6.3.
const (
	FramingNone    Framing = iota // no body: HEAD request, 1xx, 204, 304
	FramingLength                 // Content-Length bytes
	FramingChunked                // Transfer-Encoding ending in chunked
	FramingClose                  // until the upstream closes (RFC 9112 §6.3 rule 7, or TE without final chunked)
)

// String returns the framing's name.
func (fr Framing) String() string {
	switch fr {
	case FramingNone:
		return "none"
	case FramingLength:
		return "length"
	case FramingChunked:
		return "chunked"
	case FramingClose:
		return "close"
	}
	return "Framing(" + strconv.Itoa(int(fr)) + ")"
}

// Limits of chunked framing.
const (
	respChunkLineMax = 4 << 10  // bytes in a chunk-size or trailer line, line end excluded
	respTrailerMax   = 16 << 10 // bytes in the trailer section, line ends included
	respChunkSizeMax = 1 << 62
)

// RespFrame frames one upstream HTTP/1.x answer incrementally: ParseHead,
// then AppendClientHead, then Body until done. The zero value is ready for
// the answer to a request other than HEAD; Reset prepares it for the next
// answer. After an Interim answer, call Reset (with the same head flag) and
// ParseHead again for the answer that follows.
type RespFrame struct {
	// Status is the status code.
	Status int
	// Framing is how the body is delimited.
	Framing Framing
	// Length is the body's size in bytes for FramingLength, else 0.
	Length int64
	// KeepAlive reports that the upstream connection may carry another
	// request after this answer: HTTP/1.1 without "Connection: close",
	// HTTP/1.0 only with "Connection: keep-alive", never for FramingClose.
	KeepAlive bool
	// Interim reports a 1xx answer other than 101: the real answer follows
	// on the same connection, and its KeepAlive is the one that counts.
	Interim bool

	// Head state.
	head          bool  // the request was HEAD
	scan          int   // ParseHead: offset of the first line not yet complete
	statusEnd     int   // offset of the status line's end, line end excluded
	fieldsOff     int   // offset of the first field line
	cl            int64 // the Content-Length value, when clSeen
	clSeen        bool
	normCL        bool // several Content-Length fields or a list: forward one
	dropCL        bool // Transfer-Encoding decides: do not forward Content-Length
	http10        bool // the answer is HTTP/1.0
	te            bool // a Transfer-Encoding field was seen
	teChunked     bool // chunked is among the transfer codings
	lastChunked   bool // chunked is the final transfer coding
	connClose     bool // Connection lists close
	connKeepAlive bool // Connection lists keep-alive
	connTokens    bool // Connection names fields other than close and keep-alive

	// Body state.
	st      uint8 // chunked: one of the cs states
	rem     int64 // FramingLength: bytes left; chunked: chunk size or data left
	line    int   // bytes in the current chunk-size or trailer line
	trailer int   // bytes in the trailer section
	err     error // chunked: the error once failed
}

// Reset prepares f for the answer to a new request; head reports that the
// request was HEAD (then the answer has no body whatever its headers say).
func (f *RespFrame) Reset(head bool) {
	*f = RespFrame{head: head}
}

// ParseHead parses the status line and header fields at the front of b,
// through the empty line that ends them, and sets f's exported fields. It
// returns the head's length n (> 0) when the head is complete; n == 0 with a
// nil error when more bytes are needed: call it again with the same bytes
// and more appended (each line is parsed once, as it completes; b shorter
// than what was parsed restarts the parse). With limit > 0 it fails with
// ErrRespHeadTooLarge when no complete head fits in limit bytes. Other
// errors, as soon as a bad line is complete, wrap ErrRespMalformed, or
// ErrRespUpgrade for status 101. CRLF and bare LF line ends are both
// accepted.
func (f *RespFrame) ParseHead(b []byte, limit int) (n int, err error) {
	// Fail at once on bytes that cannot start an HTTP/1.x status line,
	// rather than waiting for a line end that may never come.
	const prefix = "HTTP/1."
	if p := min(len(b), len(prefix)); string(b[:p]) != prefix[:p] {
		return 0, fmt.Errorf("%w: status line %q", ErrRespMalformed, rfClip(b))
	}
	pos := f.scan
	if pos > len(b) {
		*f = RespFrame{head: f.head}
		pos = 0
	}
	for {
		i := bytes.IndexByte(b[pos:], '\n')
		if i < 0 {
			f.scan = pos
			if limit > 0 && len(b) >= limit {
				return 0, fmt.Errorf("%w: no end within %d bytes", ErrRespHeadTooLarge, limit)
			}
			return 0, nil
		}
		end := pos + i + 1
		if limit > 0 && end > limit {
			return 0, fmt.Errorf("%w: over %d bytes", ErrRespHeadTooLarge, limit)
		}
		line := rfTrimCR(b[pos : pos+i])
		switch {
		case pos == 0:
			err = f.statusLine(line, end)
		case len(line) == 0:
			f.scan = end
			f.frame()
			return end, nil
		default:
			err = f.fieldLine(line)
		}
		if err != nil {
			return 0, err
		}
		pos = end
	}
}

// statusLine parses the status line, line end excluded; next is the
// offset of the line after it.
func (f *RespFrame) statusLine(line []byte, next int) error {
	if len(line) < 12 || string(line[:5]) != "HTTP/" || line[5] != '1' || line[6] != '.' ||
		(line[7] != '0' && line[7] != '1') || line[8] != ' ' ||
		!rfDigit(line[9]) || !rfDigit(line[10]) || !rfDigit(line[11]) ||
		(len(line) > 12 && line[12] != ' ') || line[9] == '0' {
		return fmt.Errorf("%w: status line %q", ErrRespMalformed, rfClip(line))
	}
	for _, c := range line[12:] {
		if rfCtl(c) {
			return fmt.Errorf("%w: control character in status line %q", ErrRespMalformed, rfClip(line))
		}
	}
	f.http10 = line[7] == '0'
	f.Status = int(line[9]-'0')*100 + int(line[10]-'0')*10 + int(line[11]-'0')
	if f.Status == 101 {
		return fmt.Errorf("%w: %q", ErrRespUpgrade, rfClip(line))
	}
	f.statusEnd = len(line)
	f.fieldsOff = next
	return nil
}

// fieldLine parses one header field line, line end excluded.
func (f *RespFrame) fieldLine(line []byte) error {
	if line[0] == ' ' || line[0] == '\t' {
		return fmt.Errorf("%w: obs-fold line %q", ErrRespMalformed, rfClip(line))
	}
	colon := bytes.IndexByte(line, ':')
	if colon < 0 {
		return fmt.Errorf("%w: field line without ':' %q", ErrRespMalformed, rfClip(line))
	}
	if colon == 0 {
		return fmt.Errorf("%w: empty field name %q", ErrRespMalformed, rfClip(line))
	}
	name := line[:colon]
	for _, c := range name {
		if !rfTchar[c] {
			if c == ' ' || c == '\t' {
				return fmt.Errorf("%w: whitespace before ':' %q", ErrRespMalformed, rfClip(line))
			}
			return fmt.Errorf("%w: bad character in field name %q", ErrRespMalformed, rfClip(line))
		}
	}
	value := rfTrimOWS(line[colon+1:])
	for _, c := range value {
		if rfCtl(c) {
			return fmt.Errorf("%w: control character in field %q", ErrRespMalformed, rfClip(line))
		}
	}
	switch len(name) {
	case 10:
		if rfEqualFold(name, "connection") {
			f.connection(value)
		}
	case 14:
		if rfEqualFold(name, "content-length") {
			return f.contentLength(value)
		}
	case 17:
		if rfEqualFold(name, "transfer-encoding") {
			return f.transferEncoding(value)
		}
	}
	return nil
}

// connection notes the options of a Connection field value.
func (f *RespFrame) connection(value []byte) {
	for rest := value; len(rest) > 0; {
		var tok []byte
		tok, rest = rfNextElem(rest)
		switch {
		case len(tok) == 0:
		case rfEqualFold(tok, "close"):
			f.connClose = true
		case rfEqualFold(tok, "keep-alive"):
			f.connKeepAlive = true
		default:
			f.connTokens = true
		}
	}
}

// transferEncoding checks a Transfer-Encoding field value and notes
// whether its last coding is chunked; chunked may appear only once.
func (f *RespFrame) transferEncoding(value []byte) error {
	f.te = true
	codings := 0
	for rest := value; len(rest) > 0; {
		var elem []byte
		elem, rest = rfNextElem(rest)
		if len(elem) == 0 {
			continue
		}
		coding := elem
		if j := bytes.IndexAny(coding, "; \t"); j >= 0 {
			coding = coding[:j]
		}
		if !rfToken(coding) {
			return fmt.Errorf("%w: transfer coding %q", ErrRespMalformed, rfClip(elem))
		}
		codings++
		f.lastChunked = rfEqualFold(coding, "chunked")
		if f.lastChunked {
			if f.teChunked {
				return fmt.Errorf("%w: chunked applied twice in %q", ErrRespMalformed, rfClip(value))
			}
			f.teChunked = true
		}
	}
	if codings == 0 {
		return fmt.Errorf("%w: empty Transfer-Encoding", ErrRespMalformed)
	}
	return nil
}

// frame decides the framing of a complete head.
func (f *RespFrame) frame() {
	switch {
	case f.Status < 200:
		f.Interim = true
		f.Framing = FramingNone
	case f.head || f.Status == 204 || f.Status == 304:
		f.Framing = FramingNone
	case f.te:
		// RFC 9112 §6.3 rule 3: Transfer-Encoding overrides Content-Length,
		// which an intermediary must remove. §6.1: on HTTP/1.0 the framing
		// is faulty, so read until close.
		f.dropCL = true
		f.Framing = FramingClose
		if f.lastChunked && !f.http10 {
			f.Framing = FramingChunked
		}
	case f.clSeen:
		f.Framing = FramingLength
		f.Length = f.cl
		f.rem = f.cl
	default:
		f.Framing = FramingClose
	}
	if f.http10 {
		f.KeepAlive = f.connKeepAlive && !f.connClose
	} else {
		f.KeepAlive = !f.connClose
	}
	if f.Framing == FramingClose {
		f.KeepAlive = false
	}
}

// contentLength checks one Content-Length field value: a list of equal
// decimal values (no empty elements), equal to those of earlier fields.
func (f *RespFrame) contentLength(value []byte) error {
	if len(value) == 0 || value[0] == ',' || value[len(value)-1] == ',' {
		return fmt.Errorf("%w: Content-Length %q", ErrRespMalformed, rfClip(value))
	}
	for rest := value; len(rest) > 0; {
		var elem []byte
		elem, rest = rfNextElem(rest)
		if len(elem) == 0 {
			return fmt.Errorf("%w: Content-Length %q", ErrRespMalformed, rfClip(value))
		}
		var v int64
		for _, c := range elem {
			if !rfDigit(c) || v > (1<<63-1-int64(c-'0'))/10 {
				return fmt.Errorf("%w: Content-Length %q", ErrRespMalformed, rfClip(value))
			}
			v = v*10 + int64(c-'0')
		}
		if f.clSeen {
			if v != f.cl {
				return fmt.Errorf("%w: conflicting Content-Length %d and %q", ErrRespMalformed, f.cl, rfClip(value))
			}
			f.normCL = true
		}
		f.cl, f.clSeen = v, true
	}
	return nil
}

// AppendClientHead appends the head the client gets to dst: the status line
// as "HTTP/1.1 <status> <reason>" with the upstream's reason phrase, then
// the upstream's field lines as sent (line ends normalized to CRLF) less
// the hop-by-hop ones (Connection and the fields it names, Keep-Alive,
// Proxy-Connection, Proxy-Authenticate, Proxy-Authorization, TE, Trailer,
// Upgrade), then "Connection: close" when closeClient is true or the
// framing is FramingClose, then the empty line. Content-Length is dropped
// when Transfer-Encoding decides the framing, and merged into one field
// when the upstream repeated it. Connection cannot remove Content-Length or
// Transfer-Encoding: the forwarded body needs them. On an Interim answer
// closeClient is ignored; the close goes on the final answer.
//
// head is b[:n] from the ParseHead call that succeeded. AppendClientHead
// does not allocate when dst has room.
func (f *RespFrame) AppendClientHead(dst, head []byte, closeClient bool) []byte {
	if f.fieldsOff == 0 || len(head) < f.fieldsOff {
		panic("BUG: http1: AppendClientHead without the head ParseHead accepted")
	}
	dst = append(dst, "HTTP/1.1 "...)
	dst = append(dst, head[9:12]...)
	dst = append(dst, ' ')
	if f.statusEnd > 13 {
		dst = append(dst, head[13:f.statusEnd]...)
	}
	dst = append(dst, "\r\n"...)
	clDone := false
	for pos := f.fieldsOff; pos < len(head); {
		i := bytes.IndexByte(head[pos:], '\n')
		if i < 0 {
			break
		}
		line := rfTrimCR(head[pos : pos+i])
		pos += i + 1
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			break // the empty line
		}
		name := line[:colon]
		if f.dropField(head, name) {
			continue
		}
		if f.normCL && rfEqualFold(name, "content-length") {
			if clDone {
				continue
			}
			clDone = true
			dst = append(dst, name...)
			dst = append(dst, ": "...)
			dst = strconv.AppendInt(dst, f.cl, 10)
			dst = append(dst, "\r\n"...)
			continue
		}
		dst = append(dst, line...)
		dst = append(dst, "\r\n"...)
	}
	if (closeClient && !f.Interim) || f.Framing == FramingClose {
		dst = append(dst, "Connection: close\r\n"...)
	}
	return append(dst, "\r\n"...)
}

// dropField reports whether the field name stays out of the client's head.
func (f *RespFrame) dropField(head, name []byte) bool {
	switch len(name) {
	case 2:
		if rfEqualFold(name, "te") {
			return true
		}
	case 7:
		if rfEqualFold(name, "trailer") || rfEqualFold(name, "upgrade") {
			return true
		}
	case 10:
		if rfEqualFold(name, "connection") || rfEqualFold(name, "keep-alive") {
			return true
		}
	case 14:
		if rfEqualFold(name, "content-length") {
			return f.dropCL
		}
	case 16:
		if rfEqualFold(name, "proxy-connection") {
			return true
		}
	case 17:
		if rfEqualFold(name, "transfer-encoding") {
			return false
		}
	case 18:
		if rfEqualFold(name, "proxy-authenticate") {
			return true
		}
	case 19:
		if rfEqualFold(name, "proxy-authorization") {
			return true
		}
	}
	return f.connTokens && f.namedByConnection(head, name)
}

// namedByConnection reports whether a Connection field of head lists name.
func (f *RespFrame) namedByConnection(head, name []byte) bool {
	for pos := f.fieldsOff; pos < len(head); {
		i := bytes.IndexByte(head[pos:], '\n')
		if i < 0 {
			return false
		}
		line := rfTrimCR(head[pos : pos+i])
		pos += i + 1
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return false
		}
		if !rfEqualFold(line[:colon], "connection") {
			continue
		}
		for rest := line[colon+1:]; len(rest) > 0; {
			var tok []byte
			tok, rest = rfNextElem(rest)
			if rfEqualFoldBytes(tok, name) {
				return true
			}
		}
	}
	return false
}
