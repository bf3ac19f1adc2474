package relay

import (
	"bytes"
	"crypto/tls"
	"net"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/brink-edge/brink/connsig"
)

// This file serves a front that forwards requests itself, byte for byte,
// instead of through Handle: it builds the upstream request's head from
// the head the client sent, answers failures, and records outcomes.

// UpstreamAddr returns the host:port the upstream is dialled at.
func (r *Relay) UpstreamAddr() string { return r.up.addr }

// UpstreamTLS reports whether the upstream is dialled with TLS (an
// https:// URL).
func (r *Relay) UpstreamTLS() bool { return r.up.scheme == "https" }

// UpstreamTLSConfig returns a copy of the TLS configuration the relay
// dials the upstream with (system roots, CAFile and the client
// certificate with mutual TLS), its ServerName set to the upstream's host
// when it had none. Nil for a plain-HTTP upstream.
func (r *Relay) UpstreamTLSConfig() *tls.Config {
	if !r.UpstreamTLS() {
		return nil
	}
	c := r.hc.TLSConfig.Clone()
	if c.ServerName == "" {
		if host, _, err := net.SplitHostPort(r.up.addr); err == nil {
			c.ServerName = host
		}
	}
	return c
}

// MaxBodyBytes returns the bound on a forwarded request body (Config's,
// default filled in).
func (r *Relay) MaxBodyBytes() int { return r.cfg.MaxBodyBytes }

// Timeout returns the bound on a forwarded request, from dialling to the
// end of the answer (Config's, default filled in).
func (r *Relay) Timeout() time.Duration { return r.cfg.Timeout }

// IdleConnTimeout returns how long an idle upstream connection is kept
// (Config's, default filled in).
func (r *Relay) IdleConnTimeout() time.Duration { return r.cfg.IdleConnTimeout }

// MaxConns returns the bound on upstream connections (Config's, default
// filled in).
func (r *Relay) MaxConns() int { return r.cfg.MaxConns }

// MaxResponseBytes returns the largest upstream answer Handle buffers,
// which a byte-forwarding front uses as the most it holds for a slow
// client.
func (r *Relay) MaxResponseBytes() int { return r.cfg.MaxResponseBytes }

// errAnswers holds, per failed outcome, the whole answer without and with
// "Connection: close".
var errAnswers = func() (a [numResults][2]string) {
	for o := OutcomeTooLarge; o < numResults; o++ {
		if failStatus[o] == 0 {
			continue // not answered: the client is gone
		}
		head := "HTTP/1.1 " + strconv.Itoa(failStatus[o]) + " " + fasthttp.StatusMessage(failStatus[o]) + "\r\n" +
			"Content-Type: application/json\r\nCache-Control: no-store\r\n" +
			"Content-Length: " + strconv.Itoa(len(failBody[o])) + "\r\n"
		a[o][0] = head + "\r\n" + failBody[o]
		a[o][1] = head + "Connection: close\r\n\r\n" + failBody[o]
	}
	return a
}()

// AppendErrorAnswer appends the complete HTTP/1.1 answer to a request
// that ended with the failed outcome o to dst: Handle's status and JSON
// body ({"error":"..."}: 413, 502 "upstream unreachable", 504), with
// Content-Type application/json, Cache-Control no-store, Content-Length,
// no Date, and "Connection: close" when closeConn. For OutcomeOK and
// OutcomeClientClosed (no answer to give) and values other than the
// Outcome constants, dst is returned
// unchanged. It allocates nothing when dst has room.
func AppendErrorAnswer(dst []byte, o Outcome, closeConn bool) []byte {
	if o >= numResults || failStatus[o] == 0 { // OutcomeOK, OutcomeClientClosed
		return dst
	}
	if closeConn {
		return append(dst, errAnswers[o][1]...)
	}
	return append(dst, errAnswers[o][0]...)
}

// AppendRequestHead appends the head of the upstream request for ctx to
// dst and returns it, with ok true; when ctx does not Match a route it
// returns dst unchanged and false. It applies Handle's header policy (see
// the package doc, "Forwarding") to the head the client sent, so that a
// front can forward the request as bytes:
//
//   - raw is the client's request line and header fields exactly as
//     received, through the empty line that ends them (CRLF or bare LF
//     line ends), which fasthttp has parsed into ctx.Request.Header. It is
//     only read, and must not overlap dst.
//   - bodyLen is the length of the body that will follow the head, as
//     sent upstream (buffered, de-chunked); a negative one counts as 0.
//
// The head, with CRLF line ends: the request line "<method> <target>
// HTTP/1.1" (target: the upstream's base path, the request's path as sent
// less the route's prefix with StripPrefix, and its query); Host, the
// upstream's; each field line of raw, name and value as sent, except
// Host, Content-Length, Transfer-Encoding, the hop-by-hop fields
// (Connection and those it names, Keep-Alive, Proxy-Connection,
// Proxy-Authenticate, Proxy-Authorization, TE, Trailer, Upgrade), Expect
// and the fields only the relay sets (X-Brink-Signal, the licence header,
// X-Forwarded-Proto, X-Forwarded-Host, Forwarded, X-Real-Ip,
// X-Forwarded-For), all compared case-insensitively; then
// X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host, the licence and
// X-Brink-Signal as Handle sets them; Content-Length when bodyLen > 0 or
// the method is POST, PUT or PATCH; and the empty line.
//
// Lines that fasthttp reads otherwise, or refuses, are handled
// defensively (the front has parsed raw, but a mistake there must not
// reach the upstream): a folded line (obs-fold, starting with a space or tab) is joined to its
// field with one space (RFC 9112 §5.2), as fasthttp does, or dropped with
// it; a line without ':', with an empty name, a name holding a space or a
// control byte, or a bare CR is never forwarded.
//
// It allocates nothing once dst has room for the head (the first request
// of a connection encodes its signal, which may grow a pooled buffer).
// Safe to call from concurrently running goroutines.
func (r *Relay) AppendRequestHead(dst []byte, ctx *fasthttp.RequestCtx, raw []byte, bodyLen int) ([]byte, bool) {
	rt, ok := r.match(ctx)
	if !ok {
		return dst, false
	}
	h := &ctx.Request.Header
	method := h.Method()
	dst = append(dst, method...)
	dst = append(dst, ' ')
	dst = r.appendOriginForm(dst, ctx, rt)
	dst = append(dst, " HTTP/1.1\r\nHost: "...)
	dst = append(dst, r.up.host...)
	dst = append(dst, '\r', '\n')

	start := len(dst)
	dst, sc := r.appendClientFields(dst, raw, false)
	if bytes.Count(raw[:sc.end], []byte{'\r'}) != sc.crlf {
		// A CR that does not end a line: look at every line for it.
		dst, sc = r.appendClientFields(dst[:start], raw, true)
	}
	if sc.connTokens {
		dst = dropConnectionNamed(dst, start, raw[sc.connAt:sc.end], sc.checkCR)
	}

	dst = r.appendForwardedFor(dst, ctx, raw, sc)
	if ctx.IsTLS() {
		dst = append(dst, "X-Forwarded-Proto: https\r\n"...)
	} else {
		dst = append(dst, "X-Forwarded-Proto: http\r\n"...)
	}
	if host := ctx.Host(); len(host) > 0 && bytes.IndexByte(host, '\n') < 0 && bytes.IndexByte(host, '\r') < 0 {
		// fasthttp refuses CR and LF in a Host; this keeps it so.
		dst = append(dst, "X-Forwarded-Host: "...)
		dst = append(dst, host...)
		dst = append(dst, '\r', '\n')
	}
	if r.cfg.License != "" {
		dst = append(dst, r.cfg.LicenseHeader...)
		dst = append(dst, ':', ' ')
		dst = append(dst, r.cfg.License...)
		dst = append(dst, '\r', '\n')
	}
	if c, ok := ctx.Conn().(connsig.Carrier); ok {
		if s := c.Signal(); s != nil {
			dst = append(dst, DefaultSignalHeader+": "...)
			dst = r.appendSignal(dst, s)
			dst = append(dst, '\r', '\n')
		}
	}
	if bodyLen > 0 || string(method) == fasthttp.MethodPost || string(method) == fasthttp.MethodPut ||
		string(method) == fasthttp.MethodPatch {
		dst = append(dst, "Content-Length: "...)
		dst = strconv.AppendInt(dst, int64(max(bodyLen, 0)), 10)
		dst = append(dst, '\r', '\n')
	}
	return append(dst, '\r', '\n'), true
}

// fieldKind is what AppendRequestHead does with a client's field.
type fieldKind uint8

const (
	fieldKeep         fieldKind = iota
	fieldDrop                   // hop-by-hop, framing, or set by the relay
	fieldConnection             // dropped; its tokens name more to drop
	fieldForwardedFor           // dropped; the relay sets its own chain
)

// kind classifies a field name: by length first, then by the case-folded
// bytes. name holds no byte below '!' (lineScanner.field).
func (r *Relay) kind(name []byte) fieldKind {
	if len(name) == len(r.cfg.LicenseHeader) && equalFold(name, r.cfg.LicenseHeader) {
		return fieldDrop
	}
	var drop bool
	switch len(name) {
	case 2:
		drop = lowerIs(name, "te")
	case 4:
		drop = lowerIs(name, "host")
	case 6:
		drop = lowerIs(name, "expect")
	case 7:
		drop = lowerIs(name, "upgrade") || lowerIs(name, "trailer")
	case 9:
		drop = lowerIs(name, "forwarded") || lowerIs(name, "x-real-ip")
	case 10:
		if lowerIs(name, "connection") {
			return fieldConnection
		}
		drop = lowerIs(name, "keep-alive")
	case 14:
		drop = lowerIs(name, "content-length") || lowerIs(name, "x-brink-signal")
	case 15:
		if lowerIs(name, "x-forwarded-for") {
			return fieldForwardedFor
		}
	case 16:
		drop = lowerIs(name, "x-forwarded-host") || lowerIs(name, "proxy-connection")
	case 17:
		drop = lowerIs(name, "transfer-encoding") || lowerIs(name, "x-forwarded-proto")
	case 18:
		drop = lowerIs(name, "proxy-authenticate")
	case 19:
		drop = lowerIs(name, "proxy-authorization")
	}
	if drop {
		return fieldDrop
	}
	return fieldKeep
}

// lowerIs reports whether name equals lower, a lower-case name, ignoring
// ASCII case. name must hold no byte below '!' (lineScanner.field): OR-ing 0x20
// then folds letters only ('-' could otherwise match a CR).
func lowerIs(name []byte, lower string) bool {
	if len(name) != len(lower) {
		return false
	}
	for i := 0; i < len(name); i++ {
		if name[i]|0x20 != lower[i] {
			return false
		}
	}
	return true
}

// headScan is what appendClientFields saw that needs a second look.
type headScan struct {
	connAt     int  // offset in raw of the first Connection line, or -1
	xffAt      int  // offset in raw of the first X-Forwarded-For line, or -1
	end        int  // offset in raw just past the head
	crlf       int  // lines that end in CRLF, up to end
	connTokens bool // a Connection field names more than close/keep-alive
	checkCR    bool // the lines were checked for bare CRs
}

// appendClientFields appends the client's fields that go upstream, in one
// pass over raw. With checkCR it drops the lines that hold a bare CR;
// without, the caller compares the CRs of raw[:end] with the crlf count
// returned.
func (r *Relay) appendClientFields(dst, raw []byte, checkCR bool) ([]byte, headScan) {
	sc := headScan{connAt: -1, xffAt: -1, checkCR: checkCR}
	ls := lineScanner{raw: raw, checkCR: checkCR}
	for _, ok := ls.next(); !ok && ls.i < len(raw); _, ok = ls.next() {
		// Empty lines before the request line (RFC 9112 §2.2), then the
		// request line itself: AppendRequestHead writes its own.
	}
	prev := fieldDrop
	for {
		at := ls.i
		line, ok := ls.next()
		if !ok {
			sc.end, sc.crlf = ls.i, ls.crlf
			return dst, sc
		}
		if isFold(line) {
			switch {
			case !ls.clean(line):
			case prev == fieldKeep:
				dst = unfold(dst, line)
			case prev == fieldConnection:
				sc.connTokens = sc.connTokens || hasHopTokens(line)
			}
			continue
		}
		name, value, ok := ls.field(line)
		if !ok {
			prev = fieldDrop
			continue
		}
		prev = r.kind(name)
		switch prev {
		case fieldKeep:
			dst = append(dst, line...)
			dst = append(dst, '\r', '\n')
		case fieldConnection:
			if sc.connAt < 0 {
				sc.connAt = at
			}
			sc.connTokens = sc.connTokens || hasHopTokens(value)
		case fieldForwardedFor:
			if sc.xffAt < 0 {
				sc.xffAt = at
			}
		}
	}
}

// lineScanner walks the lines of a raw head.
type lineScanner struct {
	raw     []byte
	i       int  // offset of the next line
	crlf    int  // lines so far that ended in CRLF
	checkCR bool // clean and field look for bare CRs
}

// next returns the next line without its line end (LF or CRLF), and false
// at the empty line that ends the head or at the end of raw.
func (s *lineScanner) next() ([]byte, bool) {
	rest := s.raw[s.i:]
	n := bytes.IndexByte(rest, '\n')
	if n < 0 {
		n = len(rest) // a head cut short: its last line still counts
		s.i = len(s.raw)
	} else {
		s.i += n + 1
	}
	line := rest[:n]
	if n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
		s.crlf++
	}
	return line, len(line) > 0
}

// isFold reports whether line continues the previous field (obs-fold).
func isFold(line []byte) bool { return line[0] == ' ' || line[0] == '\t' }

// field splits a field line at its colon; ok is false for a line that
// must not be forwarded: no colon, an empty name or one holding a space,
// a control byte or DEL (fasthttp checks the other token rules, and
// tolerates a space inside a name, which an upstream might read
// otherwise), or a bare CR.
func (s *lineScanner) field(line []byte) (name, value []byte, ok bool) {
	for i, c := range line {
		if nameByte[c] {
			continue
		}
		if c != ':' || i == 0 || !s.clean(line[i+1:]) {
			return nil, nil, false
		}
		return line[:i], line[i+1:], true
	}
	return nil, nil, false
}

// nameByte holds the bytes field lets through in a name: all but the
// colon, space, control bytes and DEL.
var nameByte = func() (t [256]bool) {
	for c := '!'; c < 0x100; c++ {
		t[c] = c != ':' && c != 0x7f
	}
	return t
}()

// clean reports whether v holds no bare CR, which an upstream might take
// for a line end; it only looks with checkCR.
func (s *lineScanner) clean(v []byte) bool { return !s.checkCR || bytes.IndexByte(v, '\r') < 0 }

// unfold joins the folded line to the field dst ends with, replacing the
// fold with one space (RFC 9112 §5.2), as fasthttp reads it.
func unfold(dst, line []byte) []byte {
	dst = bytes.TrimRight(dst[:len(dst)-2], " \t") // the CRLF, then the field's trailing space
	dst = append(dst, ' ')
	dst = append(dst, bytes.TrimLeft(line, " \t")...)
	return append(dst, '\r', '\n')
}

// hasHopTokens reports whether a Connection value names a field (a token
// other than close and keep-alive).
func hasHopTokens(v []byte) bool {
	for len(v) > 0 {
		var tok []byte
		tok, v, _ = bytes.Cut(v, []byte{','})
		if tok = bytes.Trim(tok, " \t"); len(tok) > 0 && !equalFold(tok, "close") && !equalFold(tok, "keep-alive") {
			return true
		}
	}
	return false
}

// dropConnectionNamed removes from dst[start:] (field lines ending in
// CRLF) those named by the Connection fields of raw (a head from its
// first Connection line on), folded lines included.
func dropConnectionNamed(dst []byte, start int, raw []byte, checkCR bool) []byte {
	ls := lineScanner{raw: raw, checkCR: checkCR}
	inConn := false
	for {
		line, ok := ls.next()
		if !ok {
			return dst
		}
		var value []byte
		if isFold(line) {
			if !inConn || !ls.clean(line) {
				continue
			}
			value = line
		} else {
			var name []byte
			name, value, ok = ls.field(line)
			if inConn = ok && lowerIs(name, "connection"); !inConn {
				continue
			}
		}
		for len(value) > 0 {
			var tok []byte
			tok, value, _ = bytes.Cut(value, []byte{','})
			if tok = bytes.Trim(tok, " \t"); len(tok) > 0 && !equalFold(tok, "close") && !equalFold(tok, "keep-alive") {
				dst = dropFields(dst, start, tok)
			}
		}
	}
}

// dropFields removes the field lines named name (in any case) from
// dst[start:], which holds complete field lines ending in CRLF.
func dropFields(dst []byte, start int, name []byte) []byte {
	w := start
	for i := start; i < len(dst); {
		n := bytes.IndexByte(dst[i:], '\n') + 1
		line := dst[i : i+n]
		if colon := bytes.IndexByte(line, ':'); !equalFoldBytes(line[:colon], name) {
			w += copy(dst[w:], line)
		}
		i += n
	}
	return dst[:w]
}

// appendForwardedFor appends the X-Forwarded-For field as setHeaders sets
// it: the connection's peer IP, after the client's chain (the fields
// appendClientFields found in raw) with TrustForwardedFor; nothing when
// both are empty.
func (r *Relay) appendForwardedFor(dst []byte, ctx *fasthttp.RequestCtx, raw []byte, sc headScan) []byte {
	const name = "X-Forwarded-For: "
	dst = append(dst, name...)
	mark := len(dst)
	if r.cfg.TrustForwardedFor && sc.xffAt >= 0 {
		dst = appendClientChain(dst, raw[sc.xffAt:sc.end], sc.checkCR)
	}
	if ip := remoteIP(ctx); ip.IsValid() {
		dst = ip.AppendTo(dst)
	} else {
		dst = bytes.TrimSuffix(dst, []byte(", "))
	}
	if len(dst) == mark {
		return dst[:mark-len(name)]
	}
	return append(dst, '\r', '\n')
}

// appendClientChain appends the value of each X-Forwarded-For field of raw
// (folded lines joined with a space), trimmed, followed by ", ", skipping
// empty ones, as setHeaders does with fasthttp's values.
func appendClientChain(dst, raw []byte, checkCR bool) []byte {
	ls := lineScanner{raw: raw, checkCR: checkCR}
	in := false // dst[v:] is the value of an X-Forwarded-For field
	v := 0
	for {
		line, ok := ls.next()
		if in && (!ok || !isFold(line)) {
			dst, in = endChainValue(dst, v), false
		}
		if !ok {
			return dst
		}
		if isFold(line) {
			if in && ls.clean(line) {
				dst = dst[:v+len(bytes.TrimRight(dst[v:], " \t"))]
				dst = append(dst, ' ')
				dst = append(dst, bytes.TrimLeft(line, " \t")...)
			}
			continue
		}
		if name, value, ok := ls.field(line); ok && lowerIs(name, "x-forwarded-for") {
			in, v = true, len(dst)
			dst = append(dst, value...)
		}
	}
}

// endChainValue trims the chain value dst[v:] and ends it with ", ", or
// removes it when it is empty.
func endChainValue(dst []byte, v int) []byte {
	t := bytes.Trim(dst[v:], " \t")
	n := copy(dst[v:], t)
	dst = dst[:v+n]
	if n > 0 {
		dst = append(dst, ',', ' ')
	}
	return dst
}

// appendSignal appends s's signal header value, from the cache when it
// holds s.
func (r *Relay) appendSignal(dst []byte, s *connsig.Signal) []byte {
	slot, fresh := r.sigs.acquire(s)
	if slot != nil && fresh {
		dst = append(dst, slot.hdr...)
		slot.mu.Unlock()
		return dst
	}
	st := r.pool.Get().(*fwdState) // only its JSON scratch is used
	if slot == nil {
		// Another connection of this slot is busy with it: encode here.
		dst, st.sig = AppendSignalHeader(dst, st.sig, s)
	} else {
		st.sig = slot.refresh(s, st.sig)
		dst = append(dst, slot.hdr...)
		slot.mu.Unlock()
	}
	r.pool.Put(st)
	return dst
}

// equalFoldBytes compares a and b ASCII-case-insensitively.
func equalFoldBytes(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
