package relay

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/valyala/fasthttp"
)

// tlsFakeConn is a TLS connection as fasthttp sees one (ctx.IsTLS), with
// a signal and the fake peer address.
type tlsFakeConn struct{ signalConn }

func (*tlsFakeConn) Handshake() error                     { return nil }
func (*tlsFakeConn) ConnectionState() tls.ConnectionState { return tls.ConnectionState{} }

// Connections for the head tests: with a signal, TLS with a signal, and
// without a signal.
func sigConn() net.Conn {
	c := &signalConn{Conn: fakeAddrConn{}}
	fillSignal(&c.sig, 3)
	return c
}

func tlsConn() net.Conn {
	c := &tlsFakeConn{signalConn{Conn: fakeAddrConn{}}}
	fillSignal(&c.sig, 4)
	return c
}

func bareConn() net.Conn { return fakeAddrConn{} }

// headCtx is a RequestCtx on conn whose request fasthttp read from raw,
// with body as its buffered body.
func headCtx(t testing.TB, conn net.Conn, raw, body string, keepCase bool) *fasthttp.RequestCtx {
	t.Helper()
	ctx := new(fasthttp.RequestCtx)
	ctx.Init2(conn, nil, false)
	if keepCase {
		ctx.Request.Header.DisableNormalizing()
	}
	if err := ctx.Request.Header.Read(bufio.NewReader(strings.NewReader(raw))); err != nil {
		t.Fatalf("fasthttp cannot read %q: %v", raw, err)
	}
	if body != "" {
		ctx.Request.SetBodyString(body)
	}
	return ctx
}

// headRecorder is an upstream on 127.0.0.1 that keeps the head of every
// request exactly as received and answers 200.
type headRecorder struct {
	ln    net.Listener
	mu    sync.Mutex
	heads [][]byte
}

func startHeadRecorder(t testing.TB) *headRecorder {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hr := &headRecorder{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go hr.serve(c)
		}
	}()
	t.Cleanup(func() { _ = ln.Close() })
	return hr
}

func (hr *headRecorder) url() string { return "http://" + hr.ln.Addr().String() }

func (hr *headRecorder) serve(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		var head []byte
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				return
			}
			head = append(head, line...)
			if len(bytes.TrimRight(line, "\r\n")) == 0 {
				break
			}
		}
		var h fasthttp.RequestHeader
		if err := h.Read(bufio.NewReader(bytes.NewReader(head))); err != nil {
			return
		}
		if n := h.ContentLength(); n > 0 {
			if _, err := io.CopyN(io.Discard, br, int64(n)); err != nil {
				return
			}
		}
		hr.mu.Lock()
		hr.heads = append(hr.heads, head)
		hr.mu.Unlock()
		if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"); err != nil {
			return
		}
	}
}

func (hr *headRecorder) last(t testing.TB) []byte {
	t.Helper()
	hr.mu.Lock()
	defer hr.mu.Unlock()
	if len(hr.heads) == 0 {
		t.Fatal("the upstream saw no request")
	}
	return hr.heads[len(hr.heads)-1]
}

// parsedHead is a head as fasthttp reads it: the request line's method and
// target, and every field as "name: value" with the name in lower case.
type parsedHead struct {
	method, uri string
	fields      []string
}

func parseHead(t testing.TB, head []byte) parsedHead {
	t.Helper()
	var h fasthttp.RequestHeader
	h.DisableNormalizing()
	if err := h.Read(bufio.NewReader(bytes.NewReader(head))); err != nil {
		t.Fatalf("fasthttp cannot read the head %q: %v", head, err)
	}
	p := parsedHead{method: string(h.Method()), uri: string(h.RequestURI())}
	for k, v := range h.All() {
		p.fields = append(p.fields, strings.ToLower(string(k))+": "+string(v))
	}
	slices.Sort(p.fields)
	return p
}

// values returns the values of the fields named name (lower case).
func (p parsedHead) values(name string) []string {
	var vs []string
	for _, f := range p.fields {
		if n, v, _ := strings.Cut(f, ": "); n == name {
			vs = append(vs, v)
		}
	}
	return vs
}

// headCase is one request for the equivalence test.
type headCase struct {
	name     string
	cfg      func(*Config)
	conn     func() net.Conn
	raw      string
	body     string
	keepCase bool // the front keeps header names as sent
	// onlyHandle are the fields Handle's fasthttp client adds that
	// AppendRequestHead does not (documented in the package doc).
	onlyHandle []string
	// check, when set, looks at AppendRequestHead's head further.
	check func(t *testing.T, p parsedHead)
}

var headCases = []headCase{
	{
		name: "forged headers in mixed case",
		conn: sigConn,
		raw: "GET /octet/v1/score?x=1&y=%2F HTTP/1.1\r\nHost: Edge.Example.com:8443\r\nUser-Agent: test/1.0\r\n" +
			"x-BRINK-signal: v1 forged\r\nX-BRINK-SIGNAL: v1 forged2\r\nx-license-KEY: stolen\r\nX-Forwarded-For: 6.6.6.6\r\n" +
			"x-forwarded-proto: gopher\r\nX-Forwarded-Host: evil.example\r\nFORWARDED: for=6.6.6.6\r\nX-Real-IP: 6.6.6.6\r\n" +
			"Accept: */*\r\nCookie: a=b\r\nX-Keep: kept\r\n\r\n",
		check: func(t *testing.T, p parsedHead) {
			if got := p.values("x-forwarded-host"); len(got) != 1 || !strings.EqualFold(got[0], "edge.example.com:8443") {
				t.Errorf("X-Forwarded-Host %q", got)
			}
		},
	},
	{
		name:     "forged headers, names kept as sent",
		conn:     sigConn,
		keepCase: true,
		raw: "HEAD /octet/h HTTP/1.1\r\nHost: x\r\nx-brink-signal: v1 forged\r\nX-BRINK-SIGNAL: v1 forged2\r\n" +
			"x-license-key: stolen\r\nx-forwarded-for: 6.6.6.6\r\nx-real-ip: 6.6.6.6\r\nExpect: 100-continue\r\nx-keep: kept\r\n\r\n",
	},
	{
		name: "trusted X-Forwarded-For chain",
		cfg:  func(c *Config) { c.TrustForwardedFor = true },
		conn: sigConn,
		raw: "GET /octet/x HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 10.0.0.1\r\nx-forwarded-for:  10.0.0.2, 10.0.0.3 \r\n" +
			"X-Forwarded-For: \r\nX-Real-Ip: 6.6.6.6\r\n\r\n",
		check: func(t *testing.T, p parsedHead) {
			if got := p.values("x-forwarded-for"); len(got) != 1 || got[0] != "10.0.0.1, 10.0.0.2, 10.0.0.3, 127.0.0.1" {
				t.Errorf("X-Forwarded-For %q", got)
			}
		},
	},
	{
		name: "trusted X-Forwarded-For without a chain",
		cfg:  func(c *Config) { c.TrustForwardedFor = true },
		conn: sigConn,
		raw:  "GET /octet/x HTTP/1.1\r\nHost: h\r\n\r\n",
	},
	{
		name: "Connection names custom headers",
		conn: sigConn,
		raw: "GET /octet/c HTTP/1.1\r\nHost: h\r\nX-Hop: secret\r\nConnection: keep-alive, X-Hop , x-other,close\r\n" +
			"Keep-Alive: timeout=5\r\nX-Other: s\r\nX-Keep: kept\r\nX-Hop: again\r\nClose: kept-too\r\n" +
			"Connection: X-Second\r\nX-Second: s\r\n\r\n",
		check: func(t *testing.T, p parsedHead) {
			if len(p.values("x-hop")) != 0 || len(p.values("x-other")) != 0 || len(p.values("x-second")) != 0 || len(p.values("close")) != 1 {
				t.Errorf("fields %q", p.fields)
			}
		},
	},
	{
		name: "Expect, TE, Upgrade and proxy headers on a POST",
		conn: sigConn,
		raw: "POST /octet/v1/score HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: 7\r\n" +
			"Expect: 100-continue\r\nTE: trailers\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nTrailer: X-T\r\n" +
			"Proxy-Authorization: Basic eA==\r\nProxy-Connection: keep-alive\r\nProxy-Authenticate: x\r\n\r\n",
		body: `{"a":1}`,
	},
	{
		name: "chunked POST, de-chunked body",
		conn: sigConn,
		raw: "POST /octet/c HTTP/1.1\r\nHost: h\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n" +
			"X-Keep: kept\r\n\r\n",
		body: "hello world",
	},
	{
		name: "StripPrefix under a base path",
		cfg: func(c *Config) {
			c.URL += "/api/"
			c.Routes = []Route{{PathPrefix: "/octet", StripPrefix: true}}
		},
		conn: sigConn,
		raw:  "GET /octet/v1/x?q=1 HTTP/1.1\r\nHost: h\r\n\r\n",
		check: func(t *testing.T, p parsedHead) {
			if p.uri != "/api/v1/x?q=1" {
				t.Errorf("target %q", p.uri)
			}
		},
	},
	{
		name: "StripPrefix of the whole path",
		cfg: func(c *Config) {
			c.URL += "/api"
			c.Routes = []Route{{PathPrefix: "/octet", StripPrefix: true}}
		},
		conn: sigConn,
		raw:  "GET /octet HTTP/1.1\r\nHost: h\r\n\r\n",
		check: func(t *testing.T, p parsedHead) {
			if p.uri != "/api/" {
				t.Errorf("target %q", p.uri)
			}
		},
	},
	{
		name: "absolute-form target",
		conn: sigConn,
		raw:  "GET http://Edge.Example/octet/abs?q=2&r HTTP/1.1\r\nHost: other.example\r\nX-Keep: kept\r\n\r\n",
		check: func(t *testing.T, p parsedHead) {
			if p.uri != "/octet/abs?q=2&r" {
				t.Errorf("target %q", p.uri)
			}
		},
	},
	{
		name:       "route by host, path kept with its query",
		conn:       sigConn,
		raw:        "DELETE /any/path/?a=%20b HTTP/1.1\r\nHost: OCTET.example.com\r\nContent-Length: 3\r\n\r\n",
		body:       "xyz",
		onlyHandle: []string{"content-type: application/octet-stream"},
	},
	{
		name: "HEAD without body",
		conn: sigConn,
		raw:  "HEAD /octet/h HTTP/1.1\r\nHost: h\r\n\r\n",
	},
	{
		name: "POST without body",
		conn: sigConn,
		raw:  "POST /octet/p HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
		check: func(t *testing.T, p parsedHead) {
			if got := p.values("content-length"); len(got) != 1 || got[0] != "0" {
				t.Errorf("Content-Length %q", got)
			}
		},
	},
	{
		name:       "POST with a body and no Content-Type",
		conn:       sigConn,
		raw:        "POST /octet/p HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n",
		body:       "{}",
		onlyHandle: []string{"content-type: application/octet-stream"},
	},
	{
		name:       "DELETE without body",
		conn:       sigConn,
		raw:        "DELETE /octet/d HTTP/1.1\r\nHost: h\r\n\r\n",
		onlyHandle: []string{"content-length: 0"},
	},
	{
		name:       "TLS connection",
		conn:       tlsConn,
		raw:        "PUT /octet/t HTTP/1.1\r\nHost: h\r\nX-Forwarded-Proto: http\r\nContent-Length: 1\r\n\r\n",
		body:       "x",
		onlyHandle: []string{"content-type: application/octet-stream"},
		check: func(t *testing.T, p parsedHead) {
			if got := p.values("x-forwarded-proto"); len(got) != 1 || got[0] != "https" {
				t.Errorf("X-Forwarded-Proto %q", got)
			}
		},
	},
	{
		name: "connection without a signal, no licence",
		cfg:  func(c *Config) { c.License = "" },
		conn: bareConn,
		raw:  "GET /octet/n HTTP/1.1\r\nHost: h\r\nX-Brink-Signal: v1 forged\r\nX-License-Key: stolen\r\n\r\n",
	},
	{
		name: "custom licence header",
		cfg:  func(c *Config) { c.LicenseHeader = "X-Octet-Licence" },
		conn: sigConn,
		raw:  "GET /octet/l HTTP/1.1\r\nHost: h\r\nx-octet-LICENCE: stolen\r\nX-License-Key: passes\r\n\r\n",
	},
	{
		name: "folded line joined",
		conn: sigConn,
		raw:  "GET /octet/f HTTP/1.1\r\nHost: h\r\nX-Fold: a  \r\n \t b\r\nX-Brink-Signal: v1\r\n\tforged\r\nX-Keep: kept\r\n\r\n",
		check: func(t *testing.T, p parsedHead) {
			if got := p.values("x-fold"); len(got) != 1 || got[0] != "a b" {
				t.Errorf("X-Fold %q", got)
			}
		},
	},
}

// TestAppendRequestHeadLikeHandle: for each request, the head
// AppendRequestHead builds holds the fields, target and method that Handle
// sends a real upstream (apart from the documented differences), every
// forged or reserved field is gone, and the relay's own appear once.
func TestAppendRequestHeadLikeHandle(t *testing.T) {
	hr := startHeadRecorder(t)
	for _, tt := range headCases {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{URL: hr.url(), License: testLicense, Routes: []Route{{PathPrefix: "/octet"}, {Host: "octet.example.com"}}}
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			r, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			hctx := headCtx(t, tt.conn(), tt.raw, tt.body, tt.keepCase)
			if !r.Match(hctx) {
				t.Fatal("no route matches")
			}
			r.Handle(hctx)
			if hctx.Response.StatusCode() != 200 {
				t.Fatalf("Handle: status %d %s", hctx.Response.StatusCode(), hctx.Response.Body())
			}
			want := parseHead(t, hr.last(t))

			ctx := headCtx(t, tt.conn(), tt.raw, tt.body, tt.keepCase)
			head, ok := r.AppendRequestHead([]byte("kept"), ctx, []byte(tt.raw), len(tt.body))
			if !ok || !bytes.HasPrefix(head, []byte("kept")) {
				t.Fatalf("AppendRequestHead = %q, %v", head, ok)
			}
			head = head[len("kept"):]
			if !bytes.HasSuffix(head, []byte("\r\n\r\n")) || bytes.Count(head, []byte("\r\n\r\n")) != 1 {
				t.Fatalf("head %q does not end at its one empty line", head)
			}
			if n := bytes.Count(head, []byte("\n")); n != bytes.Count(head, []byte("\r\n")) {
				t.Errorf("head %q has bare LF line ends", head)
			}
			got := parseHead(t, head)
			if got.method != want.method || got.uri != want.uri {
				t.Errorf("request line %s %s, Handle sends %s %s", got.method, got.uri, want.method, want.uri)
			}
			onlyHandle := tt.onlyHandle
			if len(got.values("user-agent")) == 0 {
				// fasthttp's client names itself (HostClient.Name) when the
				// client did not.
				onlyHandle = append(slices.Clip(onlyHandle), "user-agent: brink-relay")
			}
			wantFields := slices.DeleteFunc(slices.Clone(want.fields), func(f string) bool { return slices.Contains(onlyHandle, f) })
			if len(wantFields) != len(want.fields)-len(onlyHandle) {
				t.Errorf("Handle no longer sends %q: %q", onlyHandle, want.fields)
			}
			if !slices.Equal(got.fields, wantFields) {
				t.Errorf("fields\n%q\nHandle sends\n%q", got.fields, wantFields)
			}
			checkReserved(t, r, ctx, got, head)
			if tt.check != nil {
				tt.check(t, got)
			}
		})
	}
}

// checkReserved: the fields the relay sets appear once with its values;
// the forged and hop-by-hop ones never.
func checkReserved(t *testing.T, r *Relay, ctx *fasthttp.RequestCtx, p parsedHead, head []byte) {
	t.Helper()
	for _, forged := range []string{"forged", "stolen", "6.6.6.6", "gopher", "evil", "secret", "100-continue", "websocket"} {
		if bytes.Contains(head, []byte(forged)) {
			t.Errorf("head %q holds %q", head, forged)
		}
	}
	for _, name := range []string{"forwarded", "x-real-ip", "connection", "keep-alive", "te", "trailer", "upgrade",
		"expect", "transfer-encoding", "proxy-connection", "proxy-authorization", "proxy-authenticate"} {
		if v := p.values(name); len(v) != 0 {
			t.Errorf("%s: %q sent", name, v)
		}
	}
	once := func(name, want string) {
		t.Helper()
		if v := p.values(name); len(v) != 1 || (want != "" && v[0] != want) {
			t.Errorf("%s: %q, want one %q", name, v, want)
		}
	}
	once("host", r.up.host)
	once("x-forwarded-for", "")
	once("x-forwarded-host", "")
	if ctx.IsTLS() {
		once("x-forwarded-proto", "https")
	} else {
		once("x-forwarded-proto", "http")
	}
	lic := strings.ToLower(r.cfg.LicenseHeader)
	if r.cfg.License != "" {
		once(lic, r.cfg.License)
	} else if v := p.values(lic); len(v) != 0 {
		t.Errorf("licence %q sent without LICENSE", v)
	}
	if c, ok := ctx.Conn().(*signalConn); ok {
		once("x-brink-signal", wantSignal(&c.sig))
	} else if c, ok := ctx.Conn().(*tlsFakeConn); ok {
		once("x-brink-signal", wantSignal(&c.sig))
	} else if v := p.values("x-brink-signal"); len(v) != 0 {
		t.Errorf("signal %q sent for a connection without one", v)
	}
}

// TestAppendRequestHeadLineEnds: bare LF line ends give the same head as
// CRLF, and empty lines before the request line are skipped.
func TestAppendRequestHeadLineEnds(t *testing.T) {
	r := newHeadRelay(t, nil)
	crlf := "GET /octet/x?q HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nConnection: x-b\r\nX-B: 2\r\nX-Fold: a\r\n b\r\n\r\n"
	ctx := headCtx(t, sigConn(), crlf, "", false)
	want, _ := r.AppendRequestHead(nil, ctx, []byte(crlf), 0)
	for _, raw := range []string{
		strings.ReplaceAll(crlf, "\r\n", "\n"),
		"\r\n" + crlf,
		"\n\r\n" + strings.ReplaceAll(crlf, "\r\n", "\n"),
		strings.TrimSuffix(crlf, "\r\n"), // cut short of the empty line
	} {
		if got, _ := r.AppendRequestHead(nil, ctx, []byte(raw), 0); !bytes.Equal(got, want) {
			t.Errorf("raw %q:\n%q\nwant\n%q", raw, got, want)
		}
	}
}

func newHeadRelay(t testing.TB, mod func(*Config)) *Relay {
	t.Helper()
	cfg := Config{URL: "http://127.0.0.1:1", License: testLicense, Routes: []Route{{PathPrefix: "/octet"}}}
	if mod != nil {
		mod(&cfg)
	}
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestAppendRequestHeadDefensive: lines fasthttp refuses or reads
// otherwise are never forwarded, though the front vouches for raw.
func TestAppendRequestHeadDefensive(t *testing.T) {
	r := newHeadRelay(t, nil)
	clean := "GET /octet/x HTTP/1.1\r\nHost: h\r\n\r\n"
	ctx := headCtx(t, sigConn(), clean, "", false)
	tests := []struct {
		name, raw string
		absent    []string
		present   []string
	}{
		{"no colon", "GET /octet/x HTTP/1.1\r\nHost: h\r\nnocolon\r\nX-A: 1\r\n\r\n", []string{"nocolon"}, []string{"X-A: 1\r\n"}},
		{"empty name", "GET /octet/x HTTP/1.1\r\nHost: h\r\n: v\r\n\r\n", []string{"\r\n: v"}, nil},
		{"space before colon", "GET /octet/x HTTP/1.1\r\nHost: h\r\nX-Brink-Signal : forged\r\n\r\n", []string{"forged"}, nil},
		{"space in name", "GET /octet/x HTTP/1.1\r\nHost: h\r\nTransfer Encoding: chunked\r\n\r\n", []string{"chunked"}, nil},
		{"bare CR in value", "GET /octet/x HTTP/1.1\r\nHost: h\r\nX-A: a\rTransfer-Encoding: chunked\r\n\r\n", []string{"chunked"}, nil},
		{"NUL in name", "GET /octet/x HTTP/1.1\r\nHost: h\r\nX-Brink\x00Signal: forged\r\n\r\n", []string{"forged"}, nil},
		{"fold of a dropped field", "GET /octet/x HTTP/1.1\r\nHost: h\r\nX-Brink-Signal: v1\r\n forged\r\n\r\n", []string{"forged"}, nil},
		{"fold first", "GET /octet/x HTTP/1.1\r\n forged: x\r\nHost: h\r\n\r\n", []string{"forged"}, nil},
		{"fold after a bad line", "GET /octet/x HTTP/1.1\r\nHost: h\r\nbad\r\n\tforged\r\n\r\n", []string{"forged"}, nil},
		{"fold with a bare CR", "GET /octet/x HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n\tx\rforged\r\n\r\n", []string{"forged"}, []string{"X-A: 1\r\n"}},
		{"every Connection field counts", "GET /octet/x HTTP/1.1\r\nHost: h\r\nConnection: X-A\r\nX-A: 1\r\nconnection: x-b\r\n\tx-c\r\nX-B: 2\r\nX-C: 3\r\nX-D: 4\r\n\r\n",
			[]string{"\r\nX-A:", "\r\nX-B:", "\r\nX-C:"}, []string{"X-D: 4\r\n"}},
		{"Connection names the relay's fields", "GET /octet/x HTTP/1.1\r\nHost: h\r\nConnection: host, x-forwarded-for, x-brink-signal, X-License-Key\r\n\r\n",
			nil, []string{"\r\nHost: 127.0.0.1:1\r\n", "\r\nX-Forwarded-For: 127.0.0.1\r\n", "\r\nX-Brink-Signal: v1 ", "\r\nX-License-Key: " + testLicense + "\r\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			head, ok := r.AppendRequestHead(nil, ctx, []byte(tt.raw), 0)
			if !ok {
				t.Fatal("no match")
			}
			for _, s := range tt.absent {
				if bytes.Contains(head, []byte(s)) {
					t.Errorf("head %q holds %q", head, s)
				}
			}
			for _, s := range tt.present {
				if !bytes.Contains(head, []byte(s)) {
					t.Errorf("head %q lacks %q", head, s)
				}
			}
			if bytes.Count(head, []byte("\r")) != bytes.Count(head, []byte("\r\n")) {
				t.Errorf("head %q has a bare CR", head)
			}
			parseHead(t, head)
		})
	}
}

// TestAppendRequestHeadNoMatch: a request outside the routes leaves dst
// as it was.
func TestAppendRequestHeadNoMatch(t *testing.T) {
	r := newHeadRelay(t, nil)
	raw := "GET /elsewhere HTTP/1.1\r\nHost: h\r\n\r\n"
	dst := []byte("before")
	got, ok := r.AppendRequestHead(dst, headCtx(t, sigConn(), raw, "", false), []byte(raw), 0)
	if ok || string(got) != "before" {
		t.Errorf("AppendRequestHead = %q, %v; want %q, false", got, ok, "before")
	}
}

// TestAppendErrorAnswer: each failed outcome's bytes read as the answer
// Handle gives that failure.
func TestAppendErrorAnswer(t *testing.T) {
	r := newHeadRelay(t, nil)
	for _, o := range []Outcome{OutcomeTooLarge, OutcomeBadGateway, OutcomeTimeout} {
		for _, closeConn := range []bool{false, true} {
			t.Run(o.String()+"/close="+strconv.FormatBool(closeConn), func(t *testing.T) {
				b := AppendErrorAnswer([]byte("x"), o, closeConn)
				if b[0] != 'x' {
					t.Fatalf("dst overwritten: %q", b)
				}
				var resp fasthttp.Response
				br := bufio.NewReader(bytes.NewReader(b[1:]))
				if err := resp.Read(br); err != nil {
					t.Fatalf("answer %q: %v", b[1:], err)
				}
				if br.Buffered() != 0 {
					t.Errorf("%d bytes after the answer", br.Buffered())
				}
				var ctx fasthttpCtx
				ctx.init("h", "/octet/x")
				r.fail(&ctx.RequestCtx, o, errors.New("test"))
				want := &ctx.Response
				if resp.StatusCode() != want.StatusCode() || string(resp.Body()) != string(want.Body()) {
					t.Errorf("answer %d %s, Handle answers %d %s", resp.StatusCode(), resp.Body(), want.StatusCode(), want.Body())
				}
				for _, h := range []string{"Content-Type", "Cache-Control"} {
					if g, w := string(resp.Header.Peek(h)), string(want.Header.Peek(h)); g != w {
						t.Errorf("%s %q, Handle sends %q", h, g, w)
					}
				}
				if resp.ConnectionClose() != closeConn {
					t.Errorf("Connection: close is %v, want %v", resp.ConnectionClose(), closeConn)
				}
				if len(resp.Header.Peek("Date")) != 0 {
					t.Error("answer has a Date")
				}
			})
		}
	}
	for _, o := range []Outcome{OutcomeOK, OutcomeClientClosed, numResults, 200} {
		if b := AppendErrorAnswer([]byte("x"), o, true); string(b) != "x" {
			t.Errorf("AppendErrorAnswer(%v) = %q, want dst unchanged", o, b)
		}
	}
}

// TestDoneAndRetried: Done counts the outcome, moves the upstream's
// reachability and warns at most once a second; Retried counts a retry.
func TestDoneAndRetried(t *testing.T) {
	var logs bytes.Buffer
	r := newHeadRelay(t, func(c *Config) { c.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
	counts := func() (n [numResults]uint64) {
		for i := range n {
			n[i] = relayResults[i].Get()
		}
		return n
	}
	if rb := r.Reachability(); rb.Known {
		t.Fatalf("reachability before any outcome: %+v", rb)
	}
	steps := []struct {
		o         Outcome
		err       error
		reachable bool
		known     bool
	}{
		{OutcomeTooLarge, nil, false, false},     // the upstream was not asked
		{OutcomeClientClosed, nil, false, false}, // nor was it at fault
		{OutcomeBadGateway, errors.New("connection refused"), false, true},
		{OutcomeOK, nil, true, true},
		{OutcomeTimeout, errors.New("timed out"), false, true},
		{OutcomeOK, nil, true, true},
	}
	for _, s := range steps {
		before := counts()
		r.Done(s.o, s.err)
		after := counts()
		for i := range after {
			want := before[i]
			if Outcome(i) == s.o {
				want++
			}
			if after[i] != want {
				t.Errorf("Done(%v): %s counter %d -> %d", s.o, Outcome(i), before[i], after[i])
			}
		}
		if rb := r.Reachability(); rb.Reachable != s.reachable || rb.Known != s.known {
			t.Errorf("after Done(%v): %+v", s.o, rb)
		}
	}
	// The message of a failure within 100 ms of the last one is not kept,
	// and warnings are held back for a second: a slow run may see both.
	if rb := r.Reachability(); (rb.LastError != "connection refused" && rb.LastError != "timed out") || rb.FailedAt.IsZero() {
		t.Errorf("last error %q at %v", rb.LastError, rb.FailedAt)
	}
	if n := strings.Count(logs.String(), "level=WARN"); n < 1 || n > 2 {
		t.Errorf("%d warnings for 2 failures, want 1 within a second:\n%s", n, logs.String())
	}
	if first, _, _ := strings.Cut(logs.String(), "\n"); !strings.Contains(first, "relay: upstream unreachable") ||
		!strings.Contains(first, "connection refused") {
		t.Errorf("first warning %q", first)
	}
	before := counts()
	r.Done(numResults, errors.New("unknown"))
	if counts() != before {
		t.Error("Done counted an unknown outcome")
	}
	retries := relayRetries.Get()
	r.Retried()
	r.Retried()
	if got := relayRetries.Get() - retries; got != 2 {
		t.Errorf("retries counted %d, want 2", got)
	}
}

// TestRelayAccessors: the filled configuration.
func TestRelayAccessors(t *testing.T) {
	r := newHeadRelay(t, func(c *Config) { c.URL = "https://Octet.example/api"; c.MaxConns = 7 })
	if r.UpstreamAddr() != "Octet.example:443" || !r.UpstreamTLS() || r.MaxConns() != 7 ||
		r.MaxBodyBytes() != DefaultMaxBodyBytes || r.Timeout() != DefaultTimeout || r.IdleConnTimeout() != DefaultIdleConnTimeout {
		t.Errorf("accessors: %s %v %d %d %v %v", r.UpstreamAddr(), r.UpstreamTLS(), r.MaxConns(), r.MaxBodyBytes(), r.Timeout(), r.IdleConnTimeout())
	}
	if c := r.UpstreamTLSConfig(); c == nil || c.ServerName != "Octet.example" || c.MinVersion != tls.VersionTLS12 {
		t.Errorf("UpstreamTLSConfig %+v", c)
	}
	p := newHeadRelay(t, func(c *Config) { c.URL = "http://[::1]/" })
	if p.UpstreamAddr() != "[::1]:80" || p.UpstreamTLS() || p.UpstreamTLSConfig() != nil {
		t.Errorf("plain upstream: %s %v", p.UpstreamAddr(), p.UpstreamTLS())
	}
}

// raceEnabled reports whether the test binary runs under the race
// detector, which allocates where the code does not.
func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// benchRaw is a browser-like request: a POST with a dozen fields.
const benchRaw = "POST /octet/v1/score?site=a&v=2 HTTP/1.1\r\nHost: edge.example.com\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n" +
	"Accept: application/json\r\nAccept-Language: en-GB,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br, zstd\r\n" +
	"Referer: https://shop.example.com/basket\r\nContent-Type: application/json\r\nContent-Length: 20\r\n" +
	"Origin: https://shop.example.com\r\nConnection: keep-alive\r\nCookie: session=0123456789abcdef; theme=dark\r\n" +
	"Sec-Fetch-Dest: empty\r\nSec-Fetch-Mode: cors\r\nSec-Fetch-Site: same-site\r\nPriority: u=4\r\n\r\n"

const benchBody = `{"event":"pageview"}`

func TestAppendRequestHeadAllocs(t *testing.T) {
	if raceEnabled() {
		t.Skip("the race detector allocates")
	}
	for _, tt := range []struct {
		name string
		mod  func(*Config)
		raw  string
	}{
		{"browser POST", nil, benchRaw},
		{"Connection tokens, trusted chain, fold", func(c *Config) { c.TrustForwardedFor = true },
			"GET /octet/x HTTP/1.1\r\nHost: h\r\nConnection: x-a, close\r\nX-A: 1\r\nX-Forwarded-For: 1.2.3.4\r\n 5.6.7.8\r\nX-F: a\r\n b\r\n\r\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newHeadRelay(t, tt.mod)
			ctx := headCtx(t, tlsConn(), tt.raw, benchBody, false)
			raw := []byte(tt.raw)
			dst, _ := r.AppendRequestHead(nil, ctx, raw, len(benchBody))
			if n := testing.AllocsPerRun(200, func() { dst, _ = r.AppendRequestHead(dst[:0], ctx, raw, len(benchBody)) }); n != 0 {
				t.Errorf("AppendRequestHead: %v allocations, want 0", n)
			}
		})
	}
	dst := make([]byte, 0, 512)
	if n := testing.AllocsPerRun(200, func() { dst = AppendErrorAnswer(dst[:0], OutcomeTimeout, true) }); n != 0 {
		t.Errorf("AppendErrorAnswer: %v allocations, want 0", n)
	}
	r := newHeadRelay(t, nil)
	if n := testing.AllocsPerRun(200, func() { r.Done(OutcomeOK, nil); r.Retried() }); n != 0 {
		t.Errorf("Done(OutcomeOK), Retried: %v allocations, want 0", n)
	}
}

// TestHandleAllocsConnectionHeader: Handle stays allocation-free for a
// request with Connection fields (browsers send "keep-alive"); the token
// walk's copy used to escape to the heap.
func TestHandleAllocsConnectionHeader(t *testing.T) {
	if raceEnabled() {
		t.Skip("the race detector allocates")
	}
	r := newHeadRelay(t, func(c *Config) { c.URL = "http://" + startIngest(t) })
	ctx := headCtx(t, sigConn(), benchRaw, benchBody, false)
	ctx.Request.Header.Add("Connection", "X-Hop")
	run := func() {
		ctx.Response.Reset()
		r.Handle(ctx)
		if ctx.Response.StatusCode() != 200 {
			t.Fatalf("status %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
		}
	}
	for range 10 {
		run()
	}
	if n := testing.AllocsPerRun(200, run); n != 0 {
		t.Errorf("Handle: %v allocations per request with Connection fields, want 0", n)
	}
}

// BenchmarkRequestHead compares AppendRequestHead with Handle's header
// preparation (CopyTo, target, setHeaders) and with that plus the
// serialization fasthttp's client does before writing.
func BenchmarkRequestHead(b *testing.B) {
	r := newHeadRelay(b, nil)
	ctx := headCtx(b, sigConn(), benchRaw, benchBody, false)
	raw := []byte(benchRaw)
	b.Run("append-raw", func(b *testing.B) {
		dst, _ := r.AppendRequestHead(nil, ctx, raw, len(benchBody))
		b.ReportAllocs()
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			dst, _ = r.AppendRequestHead(dst[:0], ctx, raw, len(benchBody))
		}
		Sink = dst
	})
	prepare := func(st *fwdState) {
		out := &st.req
		ctx.Request.Header.CopyTo(&out.Header)
		rt, _ := r.match(ctx)
		st.buf = r.appendTarget(st.buf[:0], ctx, rt)
		out.SetRequestURIBytes(st.buf)
		out.Header.SetHost(r.up.host)
		r.setHeaders(ctx, st)
		out.SetBodyRaw(ctx.Request.Body())
	}
	b.Run("handle-prepare", func(b *testing.B) {
		st := r.pool.Get().(*fwdState)
		b.ReportAllocs()
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			prepare(st)
			st.req.Reset()
		}
	})
	b.Run("handle-prepare-write", func(b *testing.B) {
		st := r.pool.Get().(*fwdState)
		var w bytes.Buffer
		bw := bufio.NewWriterSize(&w, 4096)
		b.ReportAllocs()
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			prepare(st)
			_ = st.req.Write(bw)
			bw.Reset(&w)
			w.Reset()
			st.req.Reset()
		}
	})
}
