package relay

import (
	"bytes"
	"encoding/base64"
	"net"
	"net/netip"
	"sync"
	"unsafe"

	"github.com/valyala/fasthttp"

	"github.com/brink-edge/brink/connsig"
)

// SignalVersion is the version token that starts the signal header's
// value ("v1 <base64url>").
const SignalVersion = "v1"

// hopHeaders are the hop-by-hop headers (RFC 9110 §7.6.1) removed in both
// directions besides those the Connection header names. fasthttp itself
// frames the body (Content-Length, Transfer-Encoding) and handles
// Connection.
var hopHeaders = []string{"Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Upgrade"}

// clientHeaders are request headers a client must not set: the relay sets
// them itself (or not at all).
var clientHeaders = []string{"X-Forwarded-Proto", "X-Forwarded-Host", "Forwarded", "X-Real-Ip"}

// setHeaders prepares the outgoing request's headers: hop-by-hop and
// client-forged headers removed, then X-Forwarded-*, the licence and the
// signal set.
func (r *Relay) setHeaders(ctx *fasthttp.RequestCtx, st *fwdState) {
	in, out := &ctx.Request.Header, &st.req.Header
	var toks tokenList
	for _, v := range in.PeekAll(fasthttp.HeaderConnection) { // every Connection field, not only the first
		toks.reset(v)
		for name, ok := toks.next(); ok; name, ok = toks.next() {
			if !equalFold(name, "close") && !equalFold(name, "keep-alive") {
				out.DelBytes(name)
			}
		}
	}
	out.Del(fasthttp.HeaderConnection)
	out.ResetConnectionClose()
	for _, h := range hopHeaders {
		out.Del(h)
	}
	for _, h := range clientHeaders {
		out.Del(h)
	}
	out.Del(DefaultSignalHeader)
	out.Del(r.cfg.LicenseHeader)
	out.Del(fasthttp.HeaderExpect) // the front answered it already
	// The client's X-Forwarded-For fields go, trusted or not: with
	// TrustForwardedFor their values start the one chain set below, and a
	// second field left behind would let the client name the last address.
	out.Del(fasthttp.HeaderXForwardedFor)
	// A server that keeps header names as sent stores "x-brink-signal"
	// apart from "X-Brink-Signal", and Del misses it: look again, folding
	// case.
	delFolded(out, r.reserved)

	buf := st.buf[:0]
	if r.cfg.TrustForwardedFor {
		for _, v := range in.PeekAll(fasthttp.HeaderXForwardedFor) {
			if v = bytes.TrimSpace(v); len(v) > 0 {
				buf = append(append(buf, v...), ", "...)
			}
		}
	}
	if ip := remoteIP(ctx); ip.IsValid() {
		buf = ip.AppendTo(buf)
	} else {
		buf = bytes.TrimSuffix(buf, []byte(", "))
	}
	if len(buf) > 0 {
		out.SetBytesV(fasthttp.HeaderXForwardedFor, buf)
	} else {
		out.Del(fasthttp.HeaderXForwardedFor)
	}
	if ctx.IsTLS() {
		out.Set(fasthttp.HeaderXForwardedProto, "https")
	} else {
		out.Set(fasthttp.HeaderXForwardedProto, "http")
	}
	if host := ctx.Host(); len(host) > 0 {
		out.SetBytesV(fasthttp.HeaderXForwardedHost, host)
	}
	if r.cfg.License != "" {
		out.Set(r.cfg.LicenseHeader, r.cfg.License)
	}
	if c, ok := ctx.Conn().(connsig.Carrier); ok {
		if s := c.Signal(); s != nil {
			buf = r.sigs.set(out, s, buf, st)
		}
	}
	st.buf = buf
}

// sigSlots is the number of slots of a sigCache: about the number of
// client connections whose encoded signal stays cached.
const (
	sigSlotBits = 8
	sigSlots    = 1 << sigSlotBits
)

// sigCache keeps the encoded signal header of recently seen connections,
// so that the ~1 KB of JSON and its base64 are made once per connection
// rather than once per request: a connection's signal does not change
// while it serves requests. A slot is picked by the signal's address (it
// lives in the connection), and a cached header is used only when the
// signal equals, field for field, the one it was made from, so a new
// connection in the same slot, a reused connection object, or a signal
// updated in place always get a fresh encoding: the header sent is
// byte-for-byte what AppendSignalHeader makes.
type sigCache struct {
	slots *[sigSlots]sigSlot
}

type sigSlot struct {
	mu  sync.Mutex
	ok  bool
	sig connsig.Signal
	hdr []byte // "v1 <base64url>" of sig
}

func newSigCache() sigCache { return sigCache{slots: new([sigSlots]sigSlot)} }

// set sets the signal header of out to s's encoding, from the cache when
// it holds s, and returns buf (scratch, possibly grown).
func (c sigCache) set(out *fasthttp.RequestHeader, s *connsig.Signal, buf []byte, st *fwdState) []byte {
	slot, fresh := c.acquire(s)
	if slot == nil {
		// Another connection of this slot is busy with it: encode here.
		buf, st.sig = AppendSignalHeader(buf[:0], st.sig, s)
		out.SetBytesV(DefaultSignalHeader, buf)
		return buf
	}
	if !fresh {
		st.sig = slot.refresh(s, st.sig)
	}
	out.SetBytesV(DefaultSignalHeader, slot.hdr)
	slot.mu.Unlock()
	return buf
}

// acquire returns s's slot, locked, and whether its header is s's
// already; or nil when another request holds the slot. The caller
// refreshes a slot that is not fresh, reads slot.hdr and unlocks it.
func (c sigCache) acquire(s *connsig.Signal) (slot *sigSlot, fresh bool) {
	p := uint64(uintptr(unsafe.Pointer(s)))
	slot = &c.slots[(p*0x9E3779B97F4A7C15)>>(64-sigSlotBits)] // Fibonacci hashing
	if !slot.mu.TryLock() {
		return nil, false
	}
	return slot, slot.ok && slot.sig == *s
}

// refresh makes the locked slot hold s and its header, with scratch for
// the JSON, and returns scratch (possibly grown).
func (slot *sigSlot) refresh(s *connsig.Signal, scratch []byte) []byte {
	// A Signal is a fixed-size value: its header is at most a few KB.
	slot.sig = *s
	slot.hdr, scratch = AppendSignalHeader(slot.hdr[:0], scratch, &slot.sig)
	slot.ok = true
	return scratch
}

// delFolded deletes every header whose name equals one of names in any
// case. It allocates nothing; with normalized names (fasthttp's default)
// it only reads the headers once.
func delFolded(h *fasthttp.RequestHeader, names []string) {
	for range 64 { // a bound, should a deletion ever fail to take
		var key [64]byte
		n := 0
		for k := range h.All() {
			if len(k) <= len(key) && foldedIn(k, names) {
				n = copy(key[:], k)
				break
			}
		}
		if n == 0 {
			return
		}
		h.DelBytes(key[:n])
	}
}

func foldedIn(k []byte, names []string) bool {
	for _, name := range names {
		if equalFold(k, name) {
			return true
		}
	}
	return false
}

// AppendSignalHeader appends the signal header's value for s ("v1 " and
// the base64url of s.AppendJSON, unpadded) to dst. scratch is reused for
// the JSON; both are returned grown.
func AppendSignalHeader(dst, scratch []byte, s *connsig.Signal) ([]byte, []byte) {
	scratch = s.AppendJSON(scratch[:0])
	dst = append(dst, SignalVersion...)
	dst = append(dst, ' ')
	return base64.RawURLEncoding.AppendEncode(dst, scratch), scratch
}

// remoteIP is the connection's peer address, unmapped.
func remoteIP(ctx *fasthttp.RequestCtx) netip.Addr {
	if a, ok := ctx.RemoteAddr().(*net.TCPAddr); ok {
		return a.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}

// stripResponseHopHeaders removes the hop-by-hop headers of an upstream
// answer; the client connection's keep-alive is the server's business.
func stripResponseHopHeaders(h *fasthttp.ResponseHeader) {
	var toks tokenList
	toks.reset(h.Peek(fasthttp.HeaderConnection))
	for name, ok := toks.next(); ok; name, ok = toks.next() {
		if !equalFold(name, "close") && !equalFold(name, "keep-alive") {
			h.DelBytes(name)
		}
	}
	h.Del(fasthttp.HeaderConnection)
	h.ResetConnectionClose()
	for _, name := range hopHeaders {
		h.Del(name)
	}
}

// tokenList walks the comma-separated, trimmed, non-empty tokens of a
// copy of a header value, so that the header the value lives in may
// change meanwhile. The copy holds up to 256 bytes (longer Connection
// values are ignored past that); it stays on the caller's stack as long
// as no token outlives the walk.
type tokenList struct {
	buf  [256]byte
	i, n int
}

func (t *tokenList) reset(v []byte) { t.i, t.n = 0, copy(t.buf[:], v) }

// next returns the next token, or false when there is none left.
func (t *tokenList) next() ([]byte, bool) {
	for t.i < t.n {
		rest := t.buf[t.i:t.n]
		tok, _, found := bytes.Cut(rest, []byte{','})
		t.i += len(tok)
		if found {
			t.i++
		}
		if tok = bytes.TrimSpace(tok); len(tok) > 0 {
			return tok, true
		}
	}
	return nil, false
}

// hostWithoutPort returns the host of a Host header value, without port
// and IPv6 brackets.
func hostWithoutPort(h []byte) []byte {
	if len(h) > 0 && h[0] == '[' {
		if i := bytes.IndexByte(h, ']'); i > 0 {
			return h[1:i]
		}
		return h
	}
	if i := bytes.LastIndexByte(h, ':'); i >= 0 && bytes.IndexByte(h[:i], ':') < 0 {
		return h[:i]
	}
	return h
}

// equalFold compares b and s ASCII-case-insensitively.
func equalFold(b []byte, s string) bool { return equalFoldBytes(b, s2b(s)) }

// hasPathPrefix reports whether path is prefix or continues it at a '/'
// (any continuation when prefix ends in '/').
func hasPathPrefix(path []byte, prefix string) bool {
	if !bytes.HasPrefix(path, s2b(prefix)) {
		return false
	}
	return len(path) == len(prefix) || prefix[len(prefix)-1] == '/' || path[len(prefix)] == '/'
}

// s2b returns the bytes of s without copying. The result must not be
// modified and lives as long as s.
func s2b(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
