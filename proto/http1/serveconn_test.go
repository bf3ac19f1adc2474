package http1

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/brink-edge/brink/connsig"
)

// scFront is a front whose accepted connections are served by ServeConn.
type scFront struct {
	addr string
	s    *Server
	up   *testUpstream
	ln   net.Listener
	wg   sync.WaitGroup
	mu   sync.Mutex
	errs []error
	wrap func(net.Conn) net.Conn
}

// startFront serves ServeConn on 127.0.0.1 with echo as the handler and
// /up forwarded to upstream (Timeout 5 s unless set). serverTLS, when set,
// terminates TLS first (the accepted *tls.Conn goes to ServeConn).
func startFront(t *testing.T, upstream string, pc ProxyConfig, serverTLS *tls.Config) *scFront {
	t.Helper()
	return startFrontWrap(t, upstream, pc, serverTLS, nil)
}

// startFrontWrap is startFront with wrap, when set, applied to each
// accepted connection before ServeConn.
func startFrontWrap(t *testing.T, upstream string, pc ProxyConfig, serverTLS *tls.Config, wrap func(net.Conn) net.Conn) *scFront {
	t.Helper()
	f := &scFront{up: &testUpstream{}, wrap: wrap}
	pc.Upstream, pc.Addr = f.up, upstream
	if pc.Timeout == 0 {
		pc.Timeout = 5 * time.Second
	}
	s, err := New(Config{Handler: echo, Proxy: &pc})
	if err != nil {
		t.Fatal(err)
	}
	f.s = s
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if serverTLS != nil {
		ln = tls.NewListener(ln, serverTLS)
	}
	f.ln, f.addr = ln, ln.Addr().String()
	f.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if f.wrap != nil {
				c = f.wrap(c)
			}
			f.wg.Go(func() {
				if err := s.ServeConn(c); err != nil {
					f.mu.Lock()
					f.errs = append(f.errs, err)
					f.mu.Unlock()
				}
			})
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		done := make(chan struct{})
		go func() { f.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Error("ServeConn did not return after its client left")
		}
		s.CloseIdleUpstreams()
	})
	return f
}

// scDial connects a client to f (over TLS with conf).
func scDial(t *testing.T, f *scFront, conf *tls.Config) *client {
	t.Helper()
	if conf == nil {
		return dial(t, f.addr)
	}
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp", f.addr, conf)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { _ = c.Close() })
	return &client{c, bufio.NewReader(c)}
}

// scExpect reads an answer to method with net/http's parser and checks
// its status and body.
func scExpect(t *testing.T, c *client, method string, status int, body string) *http.Response {
	t.Helper()
	r, err := http.ReadResponse(c.br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("reading the answer to %s: %v", method, err)
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatalf("reading the body of the answer to %s: %v", method, err)
	}
	if r.StatusCode != status || string(b) != body {
		t.Fatalf("answer %d %q, want %d %q", r.StatusCode, b, status, body)
	}
	return r
}

// scUpHandler is a net/http upstream handler that tells what it received.
func scUpHandler(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	fmt.Fprintf(w, "%s %s host=%s fwd=%s tls=%s cl=%d body=%s",
		r.Method, r.URL.RequestURI(), r.Host, r.Header.Get("X-Test-Forwarded"), r.Header.Get("X-Test-TLS"), r.ContentLength, body)
}

func scBody(method, uri, body string) string {
	return fmt.Sprintf("%s %s host=upstream fwd=1 tls= cl=%d body=%s", method, uri, len(body), body)
}

// scHTTPUpstream starts a net/http upstream and counts its connections.
func scHTTPUpstream(t *testing.T, h http.HandlerFunc) (string, *atomic.Int64) {
	t.Helper()
	conns := new(atomic.Int64)
	ts := httptest.NewUnstartedServer(h)
	ts.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	ts.Start()
	t.Cleanup(ts.Close)
	return ts.Listener.Addr().String(), conns
}

// scRawUpstream is a TCP upstream whose i-th connection is served by
// serve; it closes them all on cleanup.
func scRawUpstream(t testing.TB, serve func(i int, c net.Conn, br *bufio.Reader)) (string, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepts := new(atomic.Int64)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			i := int(accepts.Add(1) - 1)
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			_ = c.SetDeadline(time.Now().Add(20 * time.Second))
			wg.Go(func() {
				defer c.Close()
				serve(i, c, bufio.NewReader(c))
			})
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String(), accepts
}

// scReadReq reads one request and its body on an upstream connection.
func scReadReq(br *bufio.Reader) (*http.Request, []byte, error) {
	r, err := http.ReadRequest(br)
	if err != nil {
		return nil, nil, err
	}
	body, err := io.ReadAll(r.Body)
	return r, body, err
}

// scAnswering answers every request on its connection with answer(path).
func scAnswering(answer func(path string) string) func(int, net.Conn, *bufio.Reader) {
	return func(_ int, c net.Conn, br *bufio.Reader) {
		for {
			r, _, err := scReadReq(br)
			if err != nil {
				return
			}
			if _, err := io.WriteString(c, answer(r.URL.Path)); err != nil {
				return
			}
		}
	}
}

func scClosedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// scCert makes a self-signed ECDSA certificate for names (server and
// client use) and a pool trusting it.
func scCert(t testing.TB, names ...string) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: names[0]},
		DNSNames:              names,
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// TestServeConnKeepAlive forwards the GETs of two client connections, one
// after the other, over one upstream connection, and serves the others
// with the handler.
func TestServeConnKeepAlive(t *testing.T) {
	t.Parallel()
	addr, conns := scHTTPUpstream(t, scUpHandler)
	f := startFront(t, addr, ProxyConfig{}, nil)
	for k := range 2 {
		c := scDial(t, f, nil)
		for i := range 4 {
			uri := "/up/a?k=" + strconv.Itoa(k) + "&i=" + strconv.Itoa(i)
			c.send(t, "GET "+uri+" HTTP/1.1\r\nHost: front\r\nX-Other: x\r\n\r\n")
			if r := scExpect(t, c, "GET", 200, scBody("GET", uri, "")); r.Close {
				t.Fatal("answer closes the connection")
			}
		}
		c.send(t, get("/other"))
		scExpect(t, c, "GET", 200, "GET /other ")
		_ = c.Close()
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("the upstream saw %d connections, want 1", n)
	}
	f.up.want(t, [5]int64{8, 0, 0, 0, 0})
	if open, idle := f.s.serveConns().pool.counts(); open != 1 || idle != 1 {
		t.Fatalf("pool: %d open, %d idle, want 1 and 1", open, idle)
	}
}

// TestServeConnChunkedAnswer passes a chunked answer, flushed in parts,
// to a net/http client, which reuses its connection.
func TestServeConnChunkedAnswer(t *testing.T) {
	t.Parallel()
	addr, _ := scHTTPUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		for i := range 4 {
			fmt.Fprintf(w, "part %d of %s;", i, r.URL.Path)
			w.(http.Flusher).Flush()
			time.Sleep(2 * time.Millisecond)
		}
	})
	f := startFront(t, addr, ProxyConfig{}, nil)
	c := scDial(t, f, nil)
	for i := range 3 {
		path := "/up/chunks" + strconv.Itoa(i)
		c.send(t, get(path))
		want := ""
		for j := range 4 {
			want += fmt.Sprintf("part %d of %s;", j, path)
		}
		r := scExpect(t, c, "GET", 200, want)
		if len(r.TransferEncoding) != 1 || r.TransferEncoding[0] != "chunked" || r.Close {
			t.Fatalf("answer %d: TE %v close %v, want chunked and kept alive", i, r.TransferEncoding, r.Close)
		}
	}
	f.up.want(t, [5]int64{3, 0, 0, 0, 0})
}

// TestServeConnCloseDelimited passes an answer delimited by the
// upstream's close with Connection: close, then ends the client's
// connection.
func TestServeConnCloseDelimited(t *testing.T) {
	t.Parallel()
	addr, _ := scRawUpstream(t, func(_ int, c net.Conn, br *bufio.Reader) {
		if _, _, err := scReadReq(br); err != nil {
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nX-A: 1\r\n\r\nuntil")
		time.Sleep(20 * time.Millisecond)
		_, _ = io.WriteString(c, " close")
	})
	f := startFront(t, addr, ProxyConfig{}, nil)
	c := scDial(t, f, nil)
	c.send(t, get("/up/close"))
	if r := scExpect(t, c, "GET", 200, "until close"); !r.Close || r.Header.Get("X-A") != "1" {
		t.Fatalf("close %v header %v, want Connection: close and X-A", r.Close, r.Header)
	}
	c.closed(t)
	f.up.want(t, [5]int64{1, 0, 0, 0, 0})
}

// TestServeConnNoBodyAnswers: HEAD, 204 and 304 answers have no body
// whatever their fields say, and the connections carry on.
func TestServeConnNoBodyAnswers(t *testing.T) {
	t.Parallel()
	addr, accepts := scRawUpstream(t, scAnswering(func(path string) string {
		switch path {
		case "/up/head":
			return "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
		case "/up/204":
			return "HTTP/1.1 204 No Content\r\n\r\n"
		case "/up/304":
			return "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\nContent-Length: 1000\r\n\r\n"
		}
		return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	}))
	f := startFront(t, addr, ProxyConfig{}, nil)
	c := scDial(t, f, nil)
	c.send(t, "HEAD /up/head HTTP/1.1\r\nHost: t\r\n\r\n")
	if r := scExpect(t, c, "HEAD", 200, ""); r.ContentLength != 1000 {
		t.Fatalf("HEAD: Content-Length %d, want 1000", r.ContentLength)
	}
	c.send(t, get("/up/204"))
	scExpect(t, c, "GET", 204, "")
	c.send(t, get("/up/304"))
	scExpect(t, c, "GET", 304, "")
	c.send(t, get("/up/ok"))
	scExpect(t, c, "GET", 200, "ok")
	if n := accepts.Load(); n != 1 {
		t.Fatalf("the upstream saw %d connections, want 1", n)
	}
	f.up.want(t, [5]int64{4, 0, 0, 0, 0})
}

// TestServeConnInterim drops 1xx interim answers before the real one.
func TestServeConnInterim(t *testing.T) {
	t.Parallel()
	addr, _ := scRawUpstream(t, func(_ int, c net.Conn, br *bufio.Reader) {
		for {
			if _, _, err := scReadReq(br); err != nil {
				return
			}
			_, _ = io.WriteString(c, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: x\r\n\r\n")
			time.Sleep(10 * time.Millisecond)
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	f := startFront(t, addr, ProxyConfig{}, nil)
	c := scDial(t, f, nil)
	for range 2 {
		c.send(t, get("/up/hints"))
		if line, err := c.br.Peek(12); err != nil || string(line) != "HTTP/1.1 200" {
			t.Fatalf("answer starts %q (%v), want HTTP/1.1 200", line, err)
		}
		scExpect(t, c, "GET", 200, "ok")
	}
	f.up.want(t, [5]int64{2, 0, 0, 0, 0})
}

// TestServeConnUpstreamDown answers 502 when the upstream refuses; the
// client's connection goes on.
func TestServeConnUpstreamDown(t *testing.T) {
	t.Parallel()
	f := startFront(t, scClosedPort(t), ProxyConfig{}, nil)
	c := scDial(t, f, nil)
	c.send(t, get("/up/down"))
	if r := scExpect(t, c, "GET", 502, `{"error":"Bad Gateway"}`); r.Close {
		t.Fatal("502 closes the connection")
	}
	c.send(t, get("/other"))
	scExpect(t, c, "GET", 200, "GET /other ")
	f.up.want(t, [5]int64{0, 0, 1, 0, 0})
	if open, _ := f.s.serveConns().pool.counts(); open != 0 {
		t.Fatalf("%d upstream connections counted after a failed dial", open)
	}
}

// TestServeConnTimeout answers 504 when the upstream never answers, after
// ProxyConfig.Timeout; the connection goes on.
func TestServeConnTimeout(t *testing.T) {
	t.Parallel()
	addr, _ := scRawUpstream(t, func(_ int, c net.Conn, br *bufio.Reader) {
		_, _ = io.Copy(io.Discard, br)
	})
	f := startFront(t, addr, ProxyConfig{Timeout: 200 * time.Millisecond}, nil)
	c := scDial(t, f, nil)
	c.send(t, get("/up/never"))
	scExpect(t, c, "GET", 504, `{"error":"Gateway Timeout"}`)
	c.send(t, get("/other"))
	scExpect(t, c, "GET", 200, "GET /other ")
	f.up.want(t, [5]int64{0, 0, 0, 1, 0})
}

// TestServeConnStaleRetry retries an idempotent request once on a new
// connection when its kept-alive one closes unanswered; a POST gets 502.
func TestServeConnStaleRetry(t *testing.T) {
	t.Parallel()
	addr, accepts := scRawUpstream(t, func(i int, c net.Conn, br *bufio.Reader) {
		r, body, err := scReadReq(br)
		if err != nil {
			return
		}
		a := fmt.Sprintf("conn %d: %s %s %s", i, r.Method, r.URL.Path, body)
		_, _ = fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(a), a)
		_, _, _ = scReadReq(br) // then close, unanswered
	})
	f := startFront(t, addr, ProxyConfig{}, nil)
	c := scDial(t, f, nil)
	c.send(t, get("/up/1"))
	scExpect(t, c, "GET", 200, "conn 0: GET /up/1 ")
	c.send(t, get("/up/2"))
	scExpect(t, c, "GET", 200, "conn 1: GET /up/2 ")
	f.up.want(t, [5]int64{2, 0, 0, 0, 1})
	c.send(t, "POST /up/3 HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nbody")
	scExpect(t, c, "POST", 502, `{"error":"Bad Gateway"}`)
	f.up.want(t, [5]int64{2, 0, 1, 0, 1})
	c.send(t, get("/up/4"))
	scExpect(t, c, "GET", 200, "conn 2: GET /up/4 ")
	if n := accepts.Load(); n != 3 {
		t.Fatalf("the upstream saw %d connections, want 3", n)
	}
}

// countConn counts the writes to a connection.
type countConn struct {
	net.Conn
	writes atomic.Int64
}

func (c *countConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// TestServeConnPipelining answers pipelined requests, forwarded and not,
// in order and in one write.
func TestServeConnPipelining(t *testing.T) {
	t.Parallel()
	addr, _ := scHTTPUpstream(t, scUpHandler)
	conns := make(chan *countConn, 1)
	f := startFrontWrap(t, addr, ProxyConfig{}, nil, func(c net.Conn) net.Conn {
		cc := &countConn{Conn: c}
		conns <- cc
		return cc
	})
	c := scDial(t, f, nil)
	c.send(t, get("/up/1")+get("/other")+"POST /up/3 HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc"+get("/up/4"))
	scExpect(t, c, "GET", 200, scBody("GET", "/up/1", ""))
	scExpect(t, c, "GET", 200, "GET /other ")
	scExpect(t, c, "POST", 200, scBody("POST", "/up/3", "abc"))
	scExpect(t, c, "GET", 200, scBody("GET", "/up/4", ""))
	if n := (<-conns).writes.Load(); n != 1 {
		t.Errorf("4 pipelined answers in %d writes, want 1", n)
	}
	f.up.want(t, [5]int64{3, 0, 0, 0, 0})
}

// TestServeConnRequestBodies forwards bodies sent with Content-Length and
// chunked (framed upstream with Content-Length), and honours Expect:
// 100-continue.
func TestServeConnRequestBodies(t *testing.T) {
	t.Parallel()
	addr, _ := scHTTPUpstream(t, scUpHandler)
	f := startFront(t, addr, ProxyConfig{}, nil)
	c := scDial(t, f, nil)
	c.send(t, "POST /up/cl HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello")
	scExpect(t, c, "POST", 200, scBody("POST", "/up/cl", "hello"))
	c.send(t, "PUT /up/chunked HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n")
	scExpect(t, c, "PUT", 200, scBody("PUT", "/up/chunked", "abcdefg"))
	c.send(t, "POST /up/continue HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
	line, err := c.br.ReadString('\n')
	if err != nil || line != "HTTP/1.1 100 Continue\r\n" {
		t.Fatalf("Expect: 100-continue answered %q %v", line, err)
	}
	if _, err := c.br.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	c.send(t, "body")
	scExpect(t, c, "POST", 200, scBody("POST", "/up/continue", "body"))
	f.up.want(t, [5]int64{3, 0, 0, 0, 0})
}

// TestServeConnMalformedAnswer answers 502 for answers that are not HTTP
// or whose head is too large; the connection goes on.
func TestServeConnMalformedAnswer(t *testing.T) {
	t.Parallel()
	for _, a := range []string{
		"HTTP/1.1 2OO OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
		"SSH-2.0-OpenSSH_9.2\r\n",
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("b", 5000) + "\r\n\r\n",
	} {
		addr, _ := scRawUpstream(t, func(_ int, c net.Conn, br *bufio.Reader) {
			if _, _, err := scReadReq(br); err != nil {
				return
			}
			_, _ = io.WriteString(c, a)
			_, _ = io.Copy(io.Discard, br)
		})
		f := startFront(t, addr, ProxyConfig{MaxAnswerHeadBytes: 4096}, nil)
		c := scDial(t, f, nil)
		c.send(t, get("/up/bad"))
		scExpect(t, c, "GET", 502, `{"error":"Bad Gateway"}`)
		c.send(t, get("/other"))
		scExpect(t, c, "GET", 200, "GET /other ")
		f.up.want(t, [5]int64{0, 0, 1, 0, 0})
	}
}

// TestServeConnUpstreamCutsBody ends the client's connection when the
// upstream closes in the middle of a body.
func TestServeConnUpstreamCutsBody(t *testing.T) {
	t.Parallel()
	addr, _ := scRawUpstream(t, func(_ int, c net.Conn, br *bufio.Reader) {
		if _, _, err := scReadReq(br); err != nil {
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this")
	})
	f := startFront(t, addr, ProxyConfig{}, nil)
	c := scDial(t, f, nil)
	c.send(t, get("/up/cut"))
	r, err := http.ReadResponse(c.br, &http.Request{Method: "GET"})
	if err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(r.Body); !errors.Is(err, io.ErrUnexpectedEOF) || string(b) != "only this" {
		t.Fatalf("cut body %q, %v; want %q and an unexpected EOF", b, err, "only this")
	}
	f.up.want(t, [5]int64{0, 0, 1, 0, 0})
}

// scBig is the 4 MiB body of TestServeConnLargeAnswer.
var scBig = func() []byte {
	b := make([]byte, 4<<20)
	for i := range b {
		b[i] = byte('a' + i%23 + i/100003%3)
	}
	return b
}()

// TestServeConnLargeAnswer passes 4 MiB answers (Content-Length and
// chunked) whole to a client that reads slowly.
func TestServeConnLargeAnswer(t *testing.T) {
	t.Parallel()
	addr, _ := scHTTPUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/up/cl" {
			w.Header().Set("Content-Length", strconv.Itoa(len(scBig)))
		}
		_, _ = w.Write(scBig)
	})
	f := startFront(t, addr, ProxyConfig{}, nil)
	c := scDial(t, f, nil)
	want := sha256.Sum256(scBig)
	for _, path := range []string{"/up/cl", "/up/chunked"} {
		c.send(t, get(path))
		r, err := http.ReadResponse(c.br, &http.Request{Method: "GET"})
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		buf := make([]byte, 32<<10)
		for i := 0; ; i++ {
			n, err := r.Body.Read(buf)
			h.Write(buf[:n])
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if i%16 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
		if [32]byte(h.Sum(nil)) != want {
			t.Fatalf("%s: the 4 MiB body differs", path)
		}
	}
	f.up.want(t, [5]int64{2, 0, 0, 0, 0})
}

// TestServeConnBodyTooLarge answers 413 for a body over
// ProxyConfig.MaxBodyBytes without asking the upstream, and for one over
// Config.MaxBodyBytes (closing).
func TestServeConnBodyTooLarge(t *testing.T) {
	t.Parallel()
	addr, conns := scHTTPUpstream(t, scUpHandler)
	f := startFront(t, addr, ProxyConfig{MaxBodyBytes: 16}, nil)
	c := scDial(t, f, nil)
	c.send(t, "POST /up/big HTTP/1.1\r\nHost: t\r\nContent-Length: 32\r\n\r\n"+strings.Repeat("x", 32))
	scExpect(t, c, "POST", 413, `{"error":"Request Entity Too Large"}`)
	c.send(t, "POST /up/small HTTP/1.1\r\nHost: t\r\nContent-Length: 16\r\n\r\n"+strings.Repeat("y", 16))
	scExpect(t, c, "POST", 200, scBody("POST", "/up/small", strings.Repeat("y", 16)))
	c.send(t, "POST /up/big HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: 17\r\n\r\n"+strings.Repeat("x", 17))
	if r := scExpect(t, c, "POST", 413, `{"error":"Request Entity Too Large"}`); !r.Close {
		t.Fatal("413 to Connection: close does not close")
	}
	c.closed(t)
	if n := conns.Load(); n != 1 {
		t.Fatalf("the upstream saw %d connections, want 1", n)
	}
	f.up.want(t, [5]int64{1, 2, 0, 0, 0})

	c = scDial(t, f, nil)
	c.send(t, fmt.Sprintf("POST /up/huge HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n", DefaultMaxBodyBytes+1))
	if r := c.read(t); r.StatusCode() != 413 || !r.ConnectionClose() {
		t.Fatalf("over Config.MaxBodyBytes: %d close=%v, want 413 and close", r.StatusCode(), r.ConnectionClose())
	}
	c.closed(t)
}

// TestServeConnHandler: requests the Upstream does not match, and HTTP/1.0
// ones, go to the handler with the loop's keep-alive rules; bad requests
// get 400 or 431 and the connection closes; a streamed answer ends it; a
// hijack gets 500, and the pooled RequestCtx is not left hijacked.
func TestServeConnHandler(t *testing.T) {
	t.Parallel()
	addr, conns := scHTTPUpstream(t, scUpHandler)
	f := startFront(t, addr, ProxyConfig{}, nil)
	c := scDial(t, f, nil)
	c.send(t, "GET /up/old HTTP/1.0\r\nHost: t\r\nConnection: keep-alive\r\n\r\n")
	if r := c.read(t); string(r.Body()) != "GET /up/old " || r.ConnectionClose() {
		t.Fatalf("HTTP/1.0: %q close=%v, want the handler's answer kept alive", r.Body(), r.ConnectionClose())
	}
	c.send(t, "GET /x HTTP/1.0\r\nHost: t\r\n\r\n")
	if r := c.read(t); string(r.Body()) != "GET /x " || !r.ConnectionClose() {
		t.Fatalf("HTTP/1.0 without keep-alive: %q close=%v", r.Body(), r.ConnectionClose())
	}
	c.closed(t)
	if n := conns.Load(); n != 0 {
		t.Fatalf("HTTP/1.0 requests reached the upstream (%d connections)", n)
	}

	for _, tc := range []struct{ req, status string }{
		{"GARBAGE\r\n\r\n", "400"},
		{"GET http://[::1 HTTP/1.1\r\nHost: t\r\n\r\n", "400"}, // a target that does not parse
		{"GET /up/x HTTP/1.1\r\nHost: [::1\r\n\r\n", "400"},    // nor forwarded
		{"GET / HTTP/1.1\r\nHost: t\r\nX: " + strings.Repeat("a", DefaultMaxHeaderBytes) + "\r\n\r\n", "431"},
	} {
		c := scDial(t, f, nil)
		c.send(t, tc.req)
		if r := c.read(t); strconv.Itoa(r.StatusCode()) != tc.status || !r.ConnectionClose() {
			t.Fatalf("%.20q: %d close=%v, want %s and close", tc.req, r.StatusCode(), r.ConnectionClose(), tc.status)
		}
		c.closed(t)
	}

	c = scDial(t, f, nil)
	c.send(t, get("/stream"))
	r, err := http.ReadResponse(c.br, &http.Request{Method: "GET"})
	if err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(r.Body); err != nil || string(b) != "data: 0\n\ndata: 1\n\ndata: 2\n\n" || !r.Close {
		t.Fatalf("stream: %q %v close=%v", b, err, r.Close)
	}
	c.closed(t)

	hs, err := New(Config{Handler: func(ctx *fasthttp.RequestCtx) {
		if string(ctx.Path()) == "/hijack" {
			ctx.Hijack(func(net.Conn) {})
			return
		}
		ctx.SetBodyString("fine")
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, want string }{{"/hijack", "500"}, {"/after", "fine"}} {
		a, b := net.Pipe()
		go func() { _ = hs.ServeConn(b) }()
		_ = a.SetDeadline(time.Now().Add(5 * time.Second))
		_, _ = io.WriteString(a, get(tc.path))
		var resp fasthttp.Response
		if err := resp.Read(bufio.NewReader(a)); err != nil {
			t.Fatal(err)
		}
		if got := strconv.Itoa(resp.StatusCode()); got != tc.want && string(resp.Body()) != tc.want {
			t.Fatalf("%s: %s %q, want %s", tc.path, got, resp.Body(), tc.want)
		}
		_ = a.Close()
	}
}

// scStateConn is a connection that reports draining on demand and
// records the HTTP states ServeConn gives it, as tlsterm.Conn does.
type scStateConn struct {
	net.Conn
	drain        atomic.Bool
	drainOnWrite atomic.Bool // drain once something was written
	mu           sync.Mutex
	states       []string
}

func (c *scStateConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if c.drainOnWrite.Load() {
		c.drain.Store(true)
	}
	return n, err
}

func (c *scStateConn) Draining() bool { return c.drain.Load() }
func (c *scStateConn) HTTPNew()       { c.record("new") }
func (c *scStateConn) HTTPActive()    { c.record("active") }
func (c *scStateConn) HTTPIdle() bool { c.record("idle"); return c.drain.Load() }
func (c *scStateConn) record(s string) {
	c.mu.Lock()
	c.states = append(c.states, s)
	c.mu.Unlock()
}

func (c *scStateConn) history() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.states, " ")
}

// TestServeConnDraining: ServeConn reports the HTTP states, and once the
// connection drains the next answer, forwarded or not, carries
// Connection: close and ends it.
func TestServeConnDraining(t *testing.T) {
	t.Parallel()
	addr, _ := scHTTPUpstream(t, scUpHandler)
	conns := make(chan *scStateConn, 3)
	f := startFrontWrap(t, addr, ProxyConfig{}, nil, func(c net.Conn) net.Conn {
		sc := &scStateConn{Conn: c}
		conns <- sc
		return sc
	})
	for _, path := range []string{"/up/x", "/other"} {
		c := scDial(t, f, nil)
		sc := <-conns
		c.send(t, get(path))
		if r := c.read(t); r.StatusCode() != 200 || r.ConnectionClose() {
			t.Fatalf("%s: %d close=%v", path, r.StatusCode(), r.ConnectionClose())
		}
		// Drain once ServeConn waits (earlier, HTTPIdle closes at once).
		deadline := time.Now().Add(3 * time.Second)
		for sc.history() != "new active idle" && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		sc.drain.Store(true)
		c.send(t, get(path))
		if r := c.read(t); r.StatusCode() != 200 || !r.ConnectionClose() {
			t.Fatalf("%s while draining: %d close=%v, want Connection: close", path, r.StatusCode(), r.ConnectionClose())
		}
		c.closed(t)
		if h := sc.history(); h != "new active idle active" {
			t.Fatalf("%s: states %q, want %q", path, h, "new active idle active")
		}
	}
	// Draining from just after the answer: HTTPIdle closes the connection.
	c := scDial(t, f, nil)
	sc := <-conns
	sc.drainOnWrite.Store(true)
	c.send(t, get("/up/y"))
	if r := c.read(t); r.StatusCode() != 200 || r.ConnectionClose() {
		t.Fatalf("status %d close=%v", r.StatusCode(), r.ConnectionClose())
	}
	c.closed(t)
	if h := sc.history(); h != "new active idle" {
		t.Fatalf("states %q, want %q", h, "new active idle")
	}
}

// TestServeConnConcurrent runs clients in parallel, keep-alive, over a
// pool shared by their goroutines (run with -race).
func TestServeConnConcurrent(t *testing.T) {
	t.Parallel()
	addr, _ := scHTTPUpstream(t, scUpHandler)
	f := startFront(t, addr, ProxyConfig{MaxConnsPerLoop: 2}, nil)
	const clients, reqs = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range clients {
		wg.Go(func() {
			c, err := net.DialTimeout("tcp", f.addr, 2*time.Second)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(20 * time.Second))
			br := bufio.NewReader(c)
			for j := range reqs {
				uri := fmt.Sprintf("/up/c%d/r%d", i, j)
				body := strings.Repeat("z", j)
				if _, err := fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n%s", uri, len(body), body); err != nil {
					errs <- err
					return
				}
				r, err := http.ReadResponse(br, &http.Request{Method: "POST"})
				if err != nil {
					errs <- err
					return
				}
				b, err := io.ReadAll(r.Body)
				if want := scBody("POST", uri, body); err != nil || (r.StatusCode != 200 && r.StatusCode != 502) ||
					(r.StatusCode == 200 && string(b) != want) {
					errs <- fmt.Errorf("%s: %d %q %v, want %q", uri, r.StatusCode, b, err, want)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	ok, full := f.up.done[OutcomeOK].Load(), f.up.done[OutcomeBadGateway].Load()
	if ok+full != clients*reqs || ok == 0 {
		t.Fatalf("%d ok and %d 502 of %d", ok, full, clients*reqs)
	}
	pool := f.s.serveConns().pool
	if open, _ := pool.counts(); open > pool.max {
		t.Fatalf("%d upstream connections open, bound %d", open, pool.max)
	}
}

// TestServeConnPoolFullAndIdle: the pool answers 502 past its bound, and
// closes connections idle past IdleConnTimeout.
func TestServeConnPoolFullAndIdle(t *testing.T) {
	t.Parallel()
	closed := make(chan error, 4)
	addr, _ := scRawUpstream(t, func(_ int, c net.Conn, br *bufio.Reader) {
		for {
			r, _, err := scReadReq(br)
			if err != nil {
				closed <- err
				return
			}
			if r.URL.Path == "/up/hold" {
				time.Sleep(300 * time.Millisecond)
			}
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	f := startFront(t, addr, ProxyConfig{IdleConnTimeout: 100 * time.Millisecond}, nil)
	pool := f.s.serveConns().pool
	pool.mu.Lock()
	pool.max = 1
	pool.mu.Unlock()
	hold := scDial(t, f, nil)
	hold.send(t, get("/up/hold"))
	deadline := time.Now().Add(3 * time.Second)
	for open, _ := pool.counts(); open != 1 && time.Now().Before(deadline); open, _ = pool.counts() {
		time.Sleep(2 * time.Millisecond)
	}
	c := scDial(t, f, nil)
	c.send(t, get("/up/other"))
	scExpect(t, c, "GET", 502, `{"error":"Bad Gateway"}`)
	scExpect(t, hold, "GET", 200, "ok")
	c.send(t, get("/up/other"))
	scExpect(t, c, "GET", 200, "ok")
	select {
	case err := <-closed:
		if !errors.Is(err, io.EOF) {
			t.Fatalf("the idle upstream connection ended with %v, want EOF", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("the idle upstream connection was not closed")
	}
	if open, idle := pool.counts(); open != 0 || idle != 0 {
		t.Fatalf("pool after the idle timeout: %d open, %d idle", open, idle)
	}
	f.up.want(t, [5]int64{2, 0, 1, 0, 0})
}

// TestServeConnTLS serves a real crypto/tls connection: handlers see
// IsTLS and the connection as given (its signal), and the forwarded head
// says TLS; the upstream is https and requires a client certificate,
// which SetUpstreamTLS provides (without it: 502).
func TestServeConnTLS(t *testing.T) {
	t.Parallel()
	upCert, upPool := scCert(t, "upstream.test")
	clientCert, clientPool := scCert(t, "brink.test")
	ts := httptest.NewUnstartedServer(http.HandlerFunc(scUpHandler))
	ts.TLS = &tls.Config{Certificates: []tls.Certificate{upCert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: clientPool}
	ts.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake below
	ts.StartTLS()
	t.Cleanup(ts.Close)
	frontCert, frontPool := scCert(t, "front.test")
	serverTLS := &tls.Config{Certificates: []tls.Certificate{frontCert}}
	clientTLS := &tls.Config{RootCAs: frontPool, ServerName: "front.test"}

	f := startFront(t, ts.Listener.Addr().String(), ProxyConfig{}, serverTLS)
	f.s.SetUpstreamTLS(&tls.Config{RootCAs: upPool, ServerName: "upstream.test", Certificates: []tls.Certificate{clientCert}})
	c := scDial(t, f, clientTLS)
	for range 2 {
		c.send(t, get("/up/secure"))
		scExpect(t, c, "GET", 200, "GET /up/secure host=upstream fwd=1 tls=1 cl=0 body=")
	}
	f.up.want(t, [5]int64{2, 0, 0, 0, 0})

	noCert := startFront(t, ts.Listener.Addr().String(), ProxyConfig{}, serverTLS)
	noCert.s.SetUpstreamTLS(&tls.Config{RootCAs: upPool, ServerName: "upstream.test"})
	c = scDial(t, noCert, clientTLS)
	c.send(t, get("/up/secure"))
	scExpect(t, c, "GET", 502, `{"error":"Bad Gateway"}`)
	if n := noCert.up.done[OutcomeBadGateway].Load(); n != 1 {
		t.Fatalf("%d bad gateway outcomes, want 1", n)
	}
}

// TestServeConnSignal: the handler's ctx.Conn is the connection given to
// ServeConn, so its signal (connsig.Carrier) reaches the handler.
func TestServeConnSignal(t *testing.T) {
	t.Parallel()
	f := startFrontWrap(t, scClosedPort(t), ProxyConfig{}, nil, func(c net.Conn) net.Conn {
		sc := &scSignalConn{Conn: c}
		sc.sig.TTL = 42
		return sc
	})
	c := scDial(t, f, nil)
	c.send(t, get("/signal"))
	if r := c.read(t); !strings.HasPrefix(string(r.Body()), "ttl=42 peer=127.0.0.1:") {
		t.Fatalf("signal: %q", r.Body())
	}
}

type scSignalConn struct {
	net.Conn
	sig connsig.Signal
}

func (c *scSignalConn) Signal() *connsig.Signal { return &c.sig }

// TestServeConnDrainDuringForward: a drain that starts while a request is
// forwarded does not stop a GET's retry on a new upstream connection (the
// pool is not closing), and the answer, or a POST's 502, closes the
// client's connection.
func TestServeConnDrainDuringForward(t *testing.T) {
	t.Parallel()
	got := make(chan struct{}, 1)
	release := make(chan struct{})
	var reqs atomic.Int64
	// Requests 0 (the GET) and 2 (the POST) are lost once the test says
	// so; request 1 (the GET's retry) is answered.
	addr, accepts := scRawUpstream(t, func(_ int, c net.Conn, br *bufio.Reader) {
		for {
			if _, _, err := scReadReq(br); err != nil {
				return
			}
			if reqs.Add(1) != 2 {
				got <- struct{}{}
				<-release
				return
			}
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	conns := make(chan *scStateConn, 2)
	f := startFrontWrap(t, addr, ProxyConfig{}, nil, func(c net.Conn) net.Conn {
		sc := &scStateConn{Conn: c}
		conns <- sc
		return sc
	})
	for _, tc := range []struct {
		req    string
		method string
		status int
		body   string
	}{
		{"GET /up/lost HTTP/1.1\r\nHost: t\r\n\r\n", "GET", 200, "ok"},
		{"POST /up/lost HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\nx", "POST", 502, `{"error":"Bad Gateway"}`},
	} {
		c := scDial(t, f, nil)
		sc := <-conns
		c.send(t, tc.req)
		<-got
		sc.drain.Store(true)
		release <- struct{}{}
		if r := scExpect(t, c, tc.method, tc.status, tc.body); !r.Close {
			t.Fatalf("%s during a drain: no Connection: close", tc.method)
		}
		c.closed(t)
	}
	if n := accepts.Load(); n != 2 {
		t.Fatalf("the upstream saw %d connections, want 2", n)
	}
	f.up.want(t, [5]int64{1, 0, 1, 0, 1})
}

// TestServeConnLongIdle: a kept-alive connection that waits past
// serveConnHotWait (and gives its buffers back) serves its next requests,
// pipelined ones and bodies included, as before.
func TestServeConnLongIdle(t *testing.T) {
	t.Parallel()
	addr, conns := scHTTPUpstream(t, scUpHandler)
	f := startFront(t, addr, ProxyConfig{}, nil)
	c := scDial(t, f, nil)
	for i := range 3 {
		c.send(t, get("/up/a"))
		scExpect(t, c, "GET", 200, scBody("GET", "/up/a", ""))
		time.Sleep(serveConnHotWait + 50*time.Millisecond)
		c.send(t, "POST /up/b HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc"+get("/other"))
		scExpect(t, c, "POST", 200, scBody("POST", "/up/b", "abc"))
		scExpect(t, c, "GET", 200, "GET /other ")
		if i < 2 {
			time.Sleep(serveConnHotWait + 50*time.Millisecond)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("the upstream saw %d connections, want 1", n)
	}
	f.up.want(t, [5]int64{6, 0, 0, 0, 0})
}

// TestServeConnStale408 takes a 408 the upstream sent on an idle
// kept-alive connection for what it is, a timed-out connection, not the
// next request's answer: the request is retried on a new connection.
func TestServeConnStale408(t *testing.T) {
	t.Parallel()
	addr, accepts := scRawUpstream(t, func(i int, c net.Conn, br *bufio.Reader) {
		for n := 0; ; n++ {
			r, _, err := scReadReq(br)
			if err != nil {
				return
			}
			a := fmt.Sprintf("conn %d: %s", i, r.URL.Path)
			_, _ = fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(a), a)
			if i == 0 && n == 0 {
				// Idle (the answer has been read): time the connection
				// out, without closing it.
				time.Sleep(20 * time.Millisecond)
				_, _ = io.WriteString(c, "HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n")
			}
		}
	})
	f := startFront(t, addr, ProxyConfig{}, nil)
	c := scDial(t, f, nil)
	c.send(t, get("/up/1"))
	scExpect(t, c, "GET", 200, "conn 0: /up/1")
	time.Sleep(100 * time.Millisecond) // the 408 waits, unread, in the pooled connection
	c.send(t, get("/up/2"))
	scExpect(t, c, "GET", 200, "conn 1: /up/2")
	f.up.want(t, [5]int64{2, 0, 0, 0, 1})
	if n := accepts.Load(); n != 2 {
		t.Fatalf("the upstream saw %d connections, want 2", n)
	}
}
