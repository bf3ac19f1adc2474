package http1

import (
	"bufio"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/brink-edge/brink/loop"
)

// proxyLoop is the loop config of these tests: a sweep every 250 ms, so
// that proxy deadlines apply within a tick.
func proxyLoop() loop.Config {
	return loop.Config{IdleTimeout: 5 * time.Second, ReadHeaderTimeout: 2 * time.Second, ShutdownGrace: 3 * time.Second}
}

// startProxy starts a loop server whose /up requests go to upstream.
func startProxy(t *testing.T, upstream string, pc ProxyConfig, lc loop.Config) (*server, *testUpstream) {
	t.Helper()
	tu := &testUpstream{}
	pc.Upstream, pc.Addr = tu, upstream
	if pc.Timeout == 0 {
		pc.Timeout = 5 * time.Second
	}
	return start(t, echo, lc, Config{Proxy: &pc}), tu
}

// upHandler is a net/http upstream that tells what it received.
func upHandler(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	fmt.Fprintf(w, "%s %s host=%s fwd=%s cl=%d te=%v body=%s",
		r.Method, r.URL.RequestURI(), r.Host, r.Header.Get("X-Test-Forwarded"), r.ContentLength, r.TransferEncoding, body)
}

// httpUpstream starts a net/http upstream running h and counts its
// connections.
func httpUpstream(t *testing.T, h http.HandlerFunc) (addr string, conns *atomic.Int64) {
	t.Helper()
	conns = new(atomic.Int64)
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

// rawUpstream is a TCP upstream whose connections are served by serve
// (i numbers the connections from 0); it closes them all on cleanup.
type rawUpstream struct {
	ln      net.Listener
	accepts atomic.Int64
	mu      sync.Mutex
	conns   []net.Conn
	wg      sync.WaitGroup
}

func startRaw(t *testing.T, serve func(i int, c net.Conn, br *bufio.Reader)) *rawUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &rawUpstream{ln: ln}
	u.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			i := int(u.accepts.Add(1) - 1)
			u.mu.Lock()
			u.conns = append(u.conns, c)
			u.mu.Unlock()
			_ = c.SetDeadline(time.Now().Add(20 * time.Second))
			u.wg.Go(func() {
				defer c.Close()
				serve(i, c, bufio.NewReader(c))
			})
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		u.mu.Lock()
		for _, c := range u.conns {
			_ = c.Close()
		}
		u.mu.Unlock()
		u.wg.Wait()
	})
	return u
}

func (u *rawUpstream) addr() string { return u.ln.Addr().String() }

// readReq reads one request and its body on an upstream connection.
func readReq(br *bufio.Reader) (*http.Request, []byte, error) {
	r, err := http.ReadRequest(br)
	if err != nil {
		return nil, nil, err
	}
	body, err := io.ReadAll(r.Body)
	return r, body, err
}

// readResp reads one answer with net/http's parser, for a request of
// method; body is read whole.
func readResp(t *testing.T, c *client, method string) (*http.Response, string) {
	t.Helper()
	r, err := http.ReadResponse(c.br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("reading the answer to %s: %v", method, err)
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatalf("reading the body of the answer to %s: %v", method, err)
	}
	return r, string(b)
}

// expect reads an answer and checks its status and body.
func expect(t *testing.T, c *client, method string, status int, body string) *http.Response {
	t.Helper()
	r, b := readResp(t, c, method)
	if r.StatusCode != status || b != body {
		t.Fatalf("answer %d %q, want %d %q", r.StatusCode, b, status, body)
	}
	return r
}

func upBody(method, uri, body string) string {
	cl := len(body)
	if method == "GET" || method == "HEAD" {
		cl = 0
	}
	return fmt.Sprintf("%s %s host=upstream fwd=1 cl=%d te=[] body=%s", method, uri, cl, body)
}

func closedPort(t *testing.T) string {
	t.Helper()
	// Port 1 (tcpmux) is below the ephemeral range, so no other test's
	// listener takes it between a check and the dial.
	const addr = "127.0.0.1:1"
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		_ = c.Close()
		t.Skip("something listens on " + addr)
	}
	return addr
}

// fixtureHandler is the net/http upstream of TestProxyHTTPUpstream: a
// chunked answer flushed in parts (/up/chunks...), large answers
// (/up/length, /up/chunked: 4 MiB; /up/huge: 16 MiB), else upHandler.
func fixtureHandler(w http.ResponseWriter, r *http.Request) {
	switch p := r.URL.Path; {
	case strings.HasPrefix(p, "/up/chunks"):
		for i := range 4 {
			fmt.Fprintf(w, "part %d of %s;", i, p)
			w.(http.Flusher).Flush()
		}
	case p == "/up/length", p == "/up/huge":
		b := bigAnswer
		if p == "/up/huge" {
			b = hugeAnswer()
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		_, _ = w.Write(b)
	case p == "/up/chunked":
		for b := bigAnswer; len(b) > 0; b = b[min(len(b), 100<<10):] {
			_, _ = w.Write(b[:min(len(b), 100<<10)])
			w.(http.Flusher).Flush()
		}
	default:
		upHandler(w, r)
	}
}

// httpFixture is one proxy in front of a net/http upstream, shared by
// the subtests of TestProxyHTTPUpstream (each server costs half a second
// to stop, in gnet's Engine.Stop).
type httpFixture struct {
	s     *server
	tu    *testUpstream
	conns *atomic.Int64 // the upstream's connections
}

// TestProxyHTTPUpstream runs the cases served by a well-behaved upstream,
// one at a time, on one proxy; each starts with the outcome counts at 0.
func TestProxyHTTPUpstream(t *testing.T) {
	t.Parallel()
	addr, conns := httpUpstream(t, fixtureHandler)
	s, tu := startProxy(t, addr, ProxyConfig{}, proxyLoop())
	f := &httpFixture{s: s, tu: tu, conns: conns}
	for _, tc := range []struct {
		name string
		run  func(*testing.T, *httpFixture)
	}{
		{"keep-alive", proxyKeepAlive},
		{"chunked answer", proxyChunkedAnswer},
		{"pipelining", proxyPipelining},
		{"request bodies", proxyRequestBodies},
		{"not forwarded", proxyNotForwarded},
		{"client close", proxyClientClose},
		{"large answer", proxyLargeAnswer},
		{"slow client", proxySlowClient},
		{"concurrent", proxyConcurrent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for i := range tu.done {
				tu.done[i].Store(0)
			}
			tu.retried.Store(0)
			tc.run(t, f)
		})
	}
}

// proxyKeepAlive forwards several GETs of one client connection over one
// upstream connection, rewriting the head as the Upstream says.
func proxyKeepAlive(t *testing.T, f *httpFixture) {
	c := dial(t, f.s.addr)
	var first int64
	for i := range 5 {
		uri := "/up/a?i=" + strconv.Itoa(i)
		c.send(t, "GET "+uri+" HTTP/1.1\r\nHost: front\r\nX-Other: x\r\n\r\n")
		r := expect(t, c, "GET", 200, upBody("GET", uri, ""))
		if r.Close {
			t.Fatal("answer closes the connection")
		}
		if i == 0 {
			first = f.conns.Load()
		}
	}
	if n := f.conns.Load(); n != first || n < 1 {
		t.Fatalf("the upstream saw %d connections after the first request and %d after the fifth, want no new one", first, n)
	}
	f.tu.waitCounts(t, [5]int64{5, 0, 0, 0, 0})
}

// proxyChunkedAnswer passes a chunked answer, flushed in parts, to a
// net/http client, which then reuses its connection.
func proxyChunkedAnswer(t *testing.T, f *httpFixture) {
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}, Timeout: 10 * time.Second}
	defer hc.CloseIdleConnections()
	for i := range 3 {
		reused := false
		trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) { reused = info.Reused }}
		path := "/up/chunks" + strconv.Itoa(i)
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", "http://"+f.s.addr+path, nil)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		want := ""
		for j := range 4 {
			want += fmt.Sprintf("part %d of %s;", j, path)
		}
		if string(b) != want || len(resp.TransferEncoding) != 1 || resp.TransferEncoding[0] != "chunked" {
			t.Fatalf("answer %d: TE %v body %q, want chunked %q", i, resp.TransferEncoding, b, want)
		}
		if i > 0 && !reused {
			t.Fatalf("request %d did not reuse the client connection", i)
		}
	}
	f.tu.waitCounts(t, [5]int64{3, 0, 0, 0, 0})
}

// proxyPipelining answers requests written at once in order, the
// forwarded ones and the handler's mixed.
func proxyPipelining(t *testing.T, f *httpFixture) {
	for _, n := range []int{2, 5} {
		c := dial(t, f.s.addr)
		var all strings.Builder
		for i := range n {
			all.WriteString(get("/up/p" + strconv.Itoa(i)))
		}
		all.WriteString(get("/other"))
		all.WriteString("POST /up/last HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc")
		c.send(t, all.String())
		for i := range n {
			expect(t, c, "GET", 200, upBody("GET", "/up/p"+strconv.Itoa(i), ""))
		}
		expect(t, c, "GET", 200, "GET /other ")
		expect(t, c, "POST", 200, upBody("POST", "/up/last", "abc"))
	}
	f.tu.waitCounts(t, [5]int64{9, 0, 0, 0, 0})
}

// proxyRequestBodies forwards a Content-Length body as is, a chunked one
// de-chunked with Content-Length, one arriving in parts and a 1 MiB one.
func proxyRequestBodies(t *testing.T, f *httpFixture) {
	c := dial(t, f.s.addr)
	c.send(t, "POST /up/cl HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello world")
	expect(t, c, "POST", 200, upBody("POST", "/up/cl", "hello world"))
	c.send(t, "POST /up/chunked-req HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
	expect(t, c, "POST", 200, upBody("POST", "/up/chunked-req", "hello world"))
	c.send(t, "PUT /up/parts HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\n\r\nab")
	time.Sleep(20 * time.Millisecond)
	c.send(t, "cdef")
	expect(t, c, "PUT", 200, upBody("PUT", "/up/parts", "abcdef"))
	big := strings.Repeat("0123456789abcdef", 1<<16)
	c.send(t, "POST /up/big HTTP/1.1\r\nHost: t\r\nContent-Length: "+strconv.Itoa(len(big))+"\r\n\r\n"+big)
	expect(t, c, "POST", 200, upBody("POST", "/up/big", big))
	f.tu.waitCounts(t, [5]int64{4, 0, 0, 0, 0})
}

// proxyNotForwarded leaves requests the Upstream does not match, and
// HTTP/1.0 ones, to the Handler.
func proxyNotForwarded(t *testing.T, f *httpFixture) {
	c := dial(t, f.s.addr)
	c.send(t, get("/other"))
	expect(t, c, "GET", 200, "GET /other ")
	c.send(t, "GET /up/old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
	expect(t, c, "GET", 200, "GET /up/old ")
	f.tu.waitCounts(t, [5]int64{0, 0, 0, 0, 0})
	c.send(t, get("/up/new"))
	expect(t, c, "GET", 200, upBody("GET", "/up/new", ""))
	f.tu.waitCounts(t, [5]int64{1, 0, 0, 0, 0})
}

// proxyClientClose forwards requests with Expect: 100-continue and with
// Connection: close.
func proxyClientClose(t *testing.T, f *httpFixture) {
	c := dial(t, f.s.addr)
	c.send(t, "POST /up/continue HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
	expect(t, c, "POST", 100, "")
	c.send(t, "hello")
	expect(t, c, "POST", 200, upBody("POST", "/up/continue", "hello"))
	c.send(t, "GET /up/last HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
	if r := expect(t, c, "GET", 200, upBody("GET", "/up/last", "")); !r.Close {
		t.Fatal("the answer to Connection: close does not close")
	}
	c.closed(t)
	f.tu.waitCounts(t, [5]int64{2, 0, 0, 0, 0})
}

// proxyLargeAnswer streams 4 MiB answers, with Content-Length and
// chunked, to a client that reads in small steps.
func proxyLargeAnswer(t *testing.T, f *httpFixture) {
	want := sha256.Sum256(bigAnswer)
	c := dial(t, f.s.addr)
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	for _, path := range []string{"/up/length", "/up/chunked"} {
		c.send(t, get(path))
		sum, n := readSlowly(t, c)
		if sum != want || n != int64(len(bigAnswer)) {
			t.Fatalf("%s: %d bytes, hash differs: %v", path, n, sum != want)
		}
	}
	f.tu.waitCounts(t, [5]int64{2, 0, 0, 0, 0})
}

// proxySlowClient streams a 16 MiB answer to a client that pauses before
// reading: the upstream is faster, and the client is not cut off at the
// loop's MaxBacklog (4 MiB) but gets ProxyConfig.MaxBacklog.
func proxySlowClient(t *testing.T, f *httpFixture) {
	big := hugeAnswer()
	c := dial(t, f.s.addr)
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	c.send(t, get("/up/huge"))
	time.Sleep(300 * time.Millisecond)
	sum, n := readSlowly(t, c)
	if n != int64(len(big)) || sum != sha256.Sum256(big) {
		t.Fatalf("%d bytes of %d", n, len(big))
	}
	f.tu.waitCounts(t, [5]int64{1, 0, 0, 0, 0})
}

// proxyConcurrent forwards requests of many clients at once over the
// loops' pools.
func proxyConcurrent(t *testing.T, f *httpFixture) {
	const clients, requests = 50, 20
	before := f.conns.Load()
	errc := make(chan error, clients)
	var wg sync.WaitGroup
	for g := range clients {
		wg.Go(func() {
			c, err := net.DialTimeout("tcp", f.s.addr, 2*time.Second)
			if err != nil {
				errc <- err
				return
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(15 * time.Second))
			br := bufio.NewReader(c)
			for i := range requests {
				uri := fmt.Sprintf("/up/c?g=%d&i=%d", g, i)
				req, want := get(uri), upBody("GET", uri, "")
				if i%3 == 2 {
					body := fmt.Sprintf("g%d-i%d", g, i)
					uri = "/up/post" + strconv.Itoa(i)
					req = fmt.Sprintf("POST %s HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n%s", uri, len(body), body)
					want = upBody("POST", uri, body)
				}
				if _, err := io.WriteString(c, req); err != nil {
					errc <- err
					return
				}
				r, err := http.ReadResponse(br, nil)
				if err != nil {
					errc <- fmt.Errorf("client %d request %d: %w", g, i, err)
					return
				}
				b, err := io.ReadAll(r.Body)
				if err != nil || string(b) != want {
					errc <- fmt.Errorf("client %d request %d: %q (%v), want %q", g, i, b, err, want)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	f.tu.waitCounts(t, [5]int64{clients * requests, 0, 0, 0, 0})
	if n := f.conns.Load() - before; n > clients {
		t.Fatalf("%d new upstream connections for %d clients", n, clients)
	}
}
