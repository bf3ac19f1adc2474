package http1

// Failure, drain, pool and timeout cases of the loop proxy; the fixtures
// are in proxy_test.go.

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestProxyUpstreamDown answers 502 when the upstream refuses, and the
// client's connection goes on.
func TestProxyUpstreamDown(t *testing.T) {
	t.Parallel()
	s, tu := startProxy(t, closedPort(t), ProxyConfig{}, proxyLoop())
	c := dial(t, s.addr)
	c.send(t, get("/up/down"))
	r := expect(t, c, "GET", 502, `{"error":"Bad Gateway"}`)
	if r.Close || r.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("502: close %v header %v", r.Close, r.Header)
	}
	c.send(t, get("/other"))
	expect(t, c, "GET", 200, "GET /other ")
	// Pipelined behind a refused one, and the last one arriving in parts.
	c.send(t, get("/up/down2")+get("/other2")+"GET /oth")
	expect(t, c, "GET", 502, `{"error":"Bad Gateway"}`)
	expect(t, c, "GET", 200, "GET /other2 ")
	time.Sleep(20 * time.Millisecond)
	c.send(t, "er3 HTTP/1.1\r\nHost: t\r\n\r\n")
	expect(t, c, "GET", 200, "GET /other3 ")
	tu.waitCounts(t, [5]int64{0, 0, 2, 0, 0})
}

// TestProxyTimeout answers 504 when the upstream accepts and never
// answers, after ProxyConfig.Timeout, and the connection goes on.
func TestProxyTimeout(t *testing.T) {
	t.Parallel()
	up := startRaw(t, func(_ int, c net.Conn, br *bufio.Reader) {
		_, _ = io.Copy(io.Discard, br)
	})
	s, tu := startProxy(t, up.addr(), ProxyConfig{Timeout: 300 * time.Millisecond}, proxyLoop())
	c := dial(t, s.addr)
	start := time.Now()
	c.send(t, get("/up/never"))
	expect(t, c, "GET", 504, `{"error":"Gateway Timeout"}`)
	// Not before the timeout is TestProxyTimeoutNotEarly's business.
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("504 after %v, want about 300ms", d)
	}
	c.send(t, get("/other"))
	expect(t, c, "GET", 200, "GET /other ")
	tu.waitCounts(t, [5]int64{0, 0, 0, 1, 0})
}

// staleUpstream answers the first request of each connection and closes
// the connection silently on the second, as a keep-alive upstream does
// when its idle timeout races the next request.
func staleUpstream(t *testing.T) *rawUpstream {
	return startRaw(t, func(i int, c net.Conn, br *bufio.Reader) {
		r, body, err := readReq(br)
		if err != nil {
			return
		}
		a := fmt.Sprintf("conn %d: %s %s %s", i, r.Method, r.URL.Path, body)
		_, _ = fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(a), a)
		_, _, _ = readReq(br) // then close, unanswered
	})
}

// TestProxyStaleRetry retries an idempotent request once on a new
// connection when its kept-alive one closes with no answer; a POST is
// answered 502 instead.
func TestProxyStaleRetry(t *testing.T) {
	t.Parallel()
	up := staleUpstream(t)
	s, tu := startProxy(t, up.addr(), ProxyConfig{}, proxyLoop())
	c := dial(t, s.addr)
	c.send(t, get("/up/1"))
	expect(t, c, "GET", 200, "conn 0: GET /up/1 ")
	c.send(t, get("/up/2"))
	expect(t, c, "GET", 200, "conn 1: GET /up/2 ")
	tu.waitCounts(t, [5]int64{2, 0, 0, 0, 1})
	c.send(t, "POST /up/3 HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nbody")
	expect(t, c, "POST", 502, `{"error":"Bad Gateway"}`)
	tu.waitCounts(t, [5]int64{2, 0, 1, 0, 1})
	c.send(t, get("/up/4"))
	expect(t, c, "GET", 200, "conn 2: GET /up/4 ")
	if n := up.accepts.Load(); n != 3 {
		t.Fatalf("the upstream saw %d connections, want 3", n)
	}
}

// bigAnswer is the 4 MiB body of TestProxyLargeAnswer.
var bigAnswer = func() []byte {
	b := make([]byte, 4<<20)
	for i := range b {
		b[i] = byte('a' + i%23 + i/100003%3)
	}
	return b
}()

// readSlowly reads an answer's body in small reads with pauses, and
// returns its hash.
func readSlowly(t *testing.T, c *client) ([32]byte, int64) {
	t.Helper()
	r, err := http.ReadResponse(c.br, &http.Request{Method: "GET"})
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	buf := make([]byte, 32<<10)
	var n int64
	for i := 0; ; i++ {
		m, err := r.Body.Read(buf)
		h.Write(buf[:m])
		n += int64(m)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("after %d body bytes: %v", n, err)
		}
		if i%8 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	return [32]byte(h.Sum(nil)), n
}

// TestProxyShutdown: Run returns within its grace while forwarded
// requests wait for an upstream that never answers, and closes those
// upstream connections without dialling new ones (the server is stopping:
// no retry); an answer that arrives during the drain reaches its client
// with Connection: close. gnet closes a loop's connections in map order,
// so several hung requests make an Out closed before its client likely.
func TestProxyShutdown(t *testing.T) {
	t.Parallel()
	const hangs = 8
	hung := make(chan error, 2*hangs)
	up := startRaw(t, func(_ int, c net.Conn, br *bufio.Reader) {
		r, _, err := readReq(br)
		if err != nil {
			return
		}
		if r.URL.Path == "/up/slow" {
			time.Sleep(300 * time.Millisecond)
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nslow")
			_, _, _ = readReq(br)
			return
		}
		// Never answer; report how the connection ends.
		_ = c.SetReadDeadline(time.Now().Add(8 * time.Second))
		_, err = br.ReadByte()
		hung <- err
	})
	lc := proxyLoop()
	lc.ShutdownGrace = time.Second
	s, tu := startProxy(t, up.addr(), ProxyConfig{Timeout: 20 * time.Second}, lc)
	var hangers []*client
	for i := range hangs {
		c := dial(t, s.addr)
		c.send(t, get("/up/hang"+strconv.Itoa(i)))
		hangers = append(hangers, c)
	}
	slow := dial(t, s.addr)
	slow.send(t, get("/up/slow"))
	deadline := time.Now().Add(3 * time.Second)
	for up.accepts.Load() < hangs+1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	stopped := time.Now()
	s.cancel()
	if r := expect(t, slow, "GET", 200, "slow"); !r.Close {
		t.Error("an answer during the drain does not close the connection")
	}
	select {
	case err := <-s.done:
		if err != nil {
			t.Fatal(err)
		}
		s.done <- nil
		if d := time.Since(stopped); d > 4*time.Second {
			t.Fatalf("Run returned after %v with a grace of 1s", d)
		}
	case <-time.After(8 * time.Second):
		t.Fatal("Run did not return")
	}
	for i, c := range hangers {
		// The forced close may end the client with an error answer (502),
		// or none; nothing else.
		if b, err := c.br.Peek(1); err == nil && b[0] == 'H' {
			r, body := readResp(t, c, "GET")
			if r.StatusCode != 502 {
				t.Errorf("hung client %d: %d %q", i, r.StatusCode, body)
			}
		}
		c.closed(t)
	}
	for range hangs {
		select {
		case err := <-hung:
			if !errors.Is(err, io.EOF) {
				t.Fatalf("a hung upstream connection read %v, want EOF", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a hung upstream connection was not closed")
		}
	}
	time.Sleep(100 * time.Millisecond)
	if n, got := up.accepts.Load(), tu.counts(); n != hangs+1 || got[4] != 0 {
		t.Fatalf("the upstream saw %d connections, want %d; outcomes %v: the stop retried requests on new connections", n, hangs+1, got)
	}
}

// TestProxyPoolAccounting runs every way a forward can end on a loop
// whose pool holds one upstream connection, checking after each that the
// pool still has its connection to give: a leak in the count would answer
// the next request 502 (no free upstream connection).
func TestProxyPoolAccounting(t *testing.T) {
	t.Parallel()
	left := make(chan error, 1)
	up := startRaw(t, func(_ int, c net.Conn, br *bufio.Reader) {
		for {
			r, _, err := readReq(br)
			if err != nil {
				return
			}
			var a string
			switch r.URL.Path {
			case "/up/bad":
				a = "HTTP/1.1 2OO OK\r\n\r\n"
			case "/up/cut":
				a = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\ncut"
			case "/up/badchunk":
				a = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nzz\r\n"
			case "/up/close":
				a = "HTTP/1.1 200 OK\r\n\r\nuntil close"
			case "/up/stall":
				_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nstall")
				_, _ = io.Copy(io.Discard, br)
				return
			case "/up/never":
				_, _ = io.Copy(io.Discard, br)
				return
			case "/up/extra":
				a = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA"
			case "/up/connclose":
				a = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"
			case "/up/stale":
				return
			case "/up/leave":
				_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
				_, err := br.ReadByte()
				left <- err
				return
			default:
				a = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
			}
			if _, err := io.WriteString(c, a); err != nil {
				return
			}
			switch r.URL.Path {
			case "/up/cut", "/up/close", "/up/connclose":
				return
			}
		}
	})
	lc := proxyLoop()
	lc.Loops = 1
	s, tu := startProxy(t, up.addr(), ProxyConfig{MaxConnsPerLoop: 1, Timeout: 300 * time.Millisecond}, lc)
	ok := func(t *testing.T) {
		t.Helper()
		c := dial(t, s.addr)
		c.send(t, get("/up/ok"))
		expect(t, c, "GET", 200, "ok")
	}
	ok(t)
	steps := []struct {
		path string
		run  func(t *testing.T, c *client)
	}{
		{"/up/bad", func(t *testing.T, c *client) { expect(t, c, "GET", 502, `{"error":"Bad Gateway"}`) }},
		{"/up/cut", func(t *testing.T, c *client) {
			r, _ := http.ReadResponse(c.br, nil)
			if r != nil {
				_, _ = io.Copy(io.Discard, r.Body)
			}
			c.closed(t)
		}},
		{"/up/badchunk", func(t *testing.T, c *client) {
			// Broken after the head: the client's connection ends.
			r, _ := http.ReadResponse(c.br, nil)
			if r != nil {
				_, _ = io.Copy(io.Discard, r.Body)
			}
			c.closed(t)
		}},
		{"/up/close", func(t *testing.T, c *client) { expect(t, c, "GET", 200, "until close"); c.closed(t) }},
		{"/up/stall", func(t *testing.T, c *client) {
			// Timeout after part of the answer: the client's connection ends.
			r, _ := http.ReadResponse(c.br, nil)
			if r != nil {
				_, _ = io.Copy(io.Discard, r.Body)
			}
			c.closed(t)
		}},
		{"/up/never", func(t *testing.T, c *client) { expect(t, c, "GET", 504, `{"error":"Gateway Timeout"}`) }},
		{"/up/extra", func(t *testing.T, c *client) { expect(t, c, "GET", 200, "ok") }},
		{"/up/connclose", func(t *testing.T, c *client) { expect(t, c, "GET", 200, "ok") }},
		{"/up/leave", func(t *testing.T, c *client) {
			// The client leaves while the upstream works: its connection
			// is closed, and the next request has the pool's one to dial.
			time.Sleep(50 * time.Millisecond)
			_ = c.Close()
			select {
			case err := <-left:
				if !errors.Is(err, io.EOF) {
					t.Fatalf("the upstream read %v after the client left, want EOF", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the upstream connection stayed open after the client left")
			}
		}},
	}
	for _, st := range steps {
		t.Run(strings.TrimPrefix(st.path, "/up/"), func(t *testing.T) {
			c := dial(t, s.addr)
			c.send(t, get(st.path))
			st.run(t, c)
			ok(t)
		})
	}
	if got := tu.counts(); got != [5]int64{13, 0, 3, 2, 0} {
		t.Fatalf("outcomes %v, want 13 OK, 3 bad gateway (bad, cut, badchunk), 2 timeouts (stall, never)", got)
	}
}

// TestProxyNoFreeConn answers 502 at once when the loop's pool is full,
// and forwards again once a connection is free.
func TestProxyNoFreeConn(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	up := startRaw(t, func(_ int, c net.Conn, br *bufio.Reader) {
		for {
			r, _, err := readReq(br)
			if err != nil {
				return
			}
			if r.URL.Path == "/up/wait" {
				<-release
			}
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	lc := proxyLoop()
	lc.Loops = 1
	s, tu := startProxy(t, up.addr(), ProxyConfig{MaxConnsPerLoop: 1}, lc)
	a, b := dial(t, s.addr), dial(t, s.addr)
	a.send(t, get("/up/wait"))
	deadline := time.Now().Add(3 * time.Second)
	for up.accepts.Load() < 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	b.send(t, get("/up/other"))
	expect(t, b, "GET", 502, `{"error":"Bad Gateway"}`)
	close(release)
	expect(t, a, "GET", 200, "ok")
	b.send(t, get("/up/other"))
	expect(t, b, "GET", 200, "ok")
	tu.waitCounts(t, [5]int64{2, 0, 1, 0, 0})
}

// TestProxyIdleConnTimeout closes upstream connections idle past
// IdleConnTimeout, and dials anew afterwards.
func TestProxyIdleConnTimeout(t *testing.T) {
	t.Parallel()
	closed := make(chan error, 2)
	up := startRaw(t, func(_ int, c net.Conn, br *bufio.Reader) {
		if _, _, err := readReq(br); err != nil {
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err := br.ReadByte()
		closed <- err
	})
	s, _ := startProxy(t, up.addr(), ProxyConfig{IdleConnTimeout: 200 * time.Millisecond}, proxyLoop())
	c := dial(t, s.addr)
	c.send(t, get("/up/1"))
	expect(t, c, "GET", 200, "ok")
	select {
	case err := <-closed:
		if !errors.Is(err, io.EOF) {
			t.Fatalf("the idle upstream connection read %v, want EOF", err)
		}
	case <-time.After(6 * time.Second):
		t.Fatal("the idle upstream connection was not closed")
	}
	c.send(t, get("/up/2"))
	expect(t, c, "GET", 200, "ok")
	if n := up.accepts.Load(); n != 2 {
		t.Fatalf("the upstream saw %d connections, want 2", n)
	}
}

// TestProxySlowUpstream waits for an upstream slower than the loop's own
// read-header and idle timeouts: the held client is exempt from them.
func TestProxySlowUpstream(t *testing.T) {
	t.Parallel()
	up := startRaw(t, func(_ int, c net.Conn, br *bufio.Reader) {
		for {
			if _, _, err := readReq(br); err != nil {
				return
			}
			time.Sleep(600 * time.Millisecond)
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nslow")
		}
	})
	lc := proxyLoop()
	lc.IdleTimeout, lc.ReadHeaderTimeout = 400*time.Millisecond, 200*time.Millisecond
	s, tu := startProxy(t, up.addr(), ProxyConfig{}, lc)
	c := dial(t, s.addr)
	// The second request waits behind the first, pipelined, for longer
	// than ReadHeaderTimeout.
	c.send(t, get("/up/1")+get("/up/2"))
	expect(t, c, "GET", 200, "slow")
	expect(t, c, "GET", 200, "slow")
	tu.waitCounts(t, [5]int64{2, 0, 0, 0, 0})
}

// TestProxyBacklogBound cuts a client that falls ProxyConfig.MaxBacklog
// behind an answer, drops the upstream connection that carried it, and
// goes on serving others.
func TestProxyBacklogBound(t *testing.T) {
	t.Parallel()
	big := hugeAnswer()
	addr, conns := httpUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/up/small" {
			_, _ = io.WriteString(w, "small")
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(big)))
		_, _ = w.Write(big)
	})
	lc := proxyLoop()
	lc.Loops = 1
	s, tu := startProxy(t, addr, ProxyConfig{MaxBacklog: 256 << 10, MaxConnsPerLoop: 1}, lc)
	c := dial(t, s.addr)
	c.send(t, get("/up/huge"))
	time.Sleep(300 * time.Millisecond) // the upstream sends 16 MiB meanwhile
	r, err := http.ReadResponse(c.br, nil)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, r.Body)
	if err == nil || n >= int64(len(big)) {
		t.Fatalf("a client 16 MiB behind read %d bytes (%v), want it cut at the backlog bound", n, err)
	}
	c2 := dial(t, s.addr)
	c2.send(t, get("/up/small"))
	expect(t, c2, "GET", 200, "small")
	if got := conns.Load(); got != 2 {
		t.Fatalf("the upstream saw %d connections, want 2 (the cut answer's dropped)", got)
	}
	tu.waitCounts(t, [5]int64{1, 0, 0, 0, 0})
}

// TestProxyRetryWhileDraining retries an idempotent request whose
// kept-alive upstream connection closes unanswered during the drain: the
// drain lets in-flight requests finish, and a stale connection is no
// reason to fail one of them.
func TestProxyRetryWhileDraining(t *testing.T) {
	t.Parallel()
	second := make(chan struct{}, 1)
	up := startRaw(t, func(i int, c net.Conn, br *bufio.Reader) {
		r, _, err := readReq(br)
		if err != nil {
			return
		}
		a := fmt.Sprintf("conn %d: %s", i, r.URL.Path)
		_, _ = fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(a), a)
		if _, _, err := readReq(br); err != nil {
			return
		}
		second <- struct{}{}
		time.Sleep(200 * time.Millisecond) // the drain has begun: close unanswered
	})
	s, tu := startProxy(t, up.addr(), ProxyConfig{}, proxyLoop())
	c := dial(t, s.addr)
	c.send(t, get("/up/1"))
	expect(t, c, "GET", 200, "conn 0: /up/1")
	c.send(t, get("/up/2"))
	select {
	case <-second:
	case <-time.After(5 * time.Second):
		t.Fatal("the second request did not reach the upstream")
	}
	s.cancel()
	if r := expect(t, c, "GET", 200, "conn 1: /up/2"); !r.Close {
		t.Fatal("an answer during the drain does not close the connection")
	}
	tu.waitCounts(t, [5]int64{2, 0, 0, 0, 1})
}

// TestProxyErrorWhileDraining: an error answer written during the drain
// tells the client that the connection ends, as the drain's other answers
// do.
func TestProxyErrorWhileDraining(t *testing.T) {
	t.Parallel()
	got := make(chan struct{}, 1)
	up := startRaw(t, func(_ int, c net.Conn, br *bufio.Reader) {
		if _, _, err := readReq(br); err != nil {
			return
		}
		got <- struct{}{}
		time.Sleep(200 * time.Millisecond)
		_, _ = io.WriteString(c, "HTTP/1.1 2OO OK\r\n\r\n")
		_, _ = io.Copy(io.Discard, br)
	})
	s, tu := startProxy(t, up.addr(), ProxyConfig{}, proxyLoop())
	c := dial(t, s.addr)
	c.send(t, get("/up/bad"))
	select {
	case <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("the request did not reach the upstream")
	}
	s.cancel()
	if r := expect(t, c, "GET", 502, `{"error":"Bad Gateway"}`); !r.Close {
		t.Error("a 502 during the drain does not say Connection: close")
	}
	c.closed(t)
	tu.waitCounts(t, [5]int64{0, 0, 1, 0, 0})
}

// hugeAnswer is the 16 MiB body of the slow-client tests.
var hugeAnswer = sync.OnceValue(func() []byte { return bytes.Repeat(bigAnswer, 4) })

// TestProxyTimeoutNotEarly: an upstream that answers within
// ProxyConfig.Timeout is not cut off, whatever the phase of the loop's
// coarse clock (a tick of 1 s here, the default's) when the request came.
func TestProxyTimeoutNotEarly(t *testing.T) {
	t.Parallel()
	up := startRaw(t, func(_ int, c net.Conn, br *bufio.Reader) {
		for {
			if _, _, err := readReq(br); err != nil {
				return
			}
			time.Sleep(400 * time.Millisecond)
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	lc := proxyLoop()
	lc.IdleTimeout, lc.ReadHeaderTimeout = 10*time.Second, 10*time.Second // a sweep a second
	s, tu := startProxy(t, up.addr(), ProxyConfig{Timeout: time.Second}, lc)
	c := dial(t, s.addr)
	// Sequential requests of 400 ms each meet the sweep at several phases.
	for i := range 5 {
		start := time.Now()
		c.send(t, get("/up/400ms"))
		r, body := readResp(t, c, "GET")
		if r.StatusCode != 200 {
			t.Fatalf("request %d: %d %q after %v: a 400 ms answer cut by a 1 s timeout", i, r.StatusCode, body, time.Since(start).Round(time.Millisecond))
		}
	}
	tu.waitCounts(t, [5]int64{5, 0, 0, 0, 0})
}

// TestProxyFloodWhileForwarding: a client that floods the connection while
// its request is forwarded is closed (the bound of pending bytes), and the
// answer arriving afterwards gives its upstream connection back to the
// pool's count at once: with one connection a loop, the next client's
// request is forwarded, not refused.
func TestProxyFloodWhileForwarding(t *testing.T) {
	t.Parallel()
	var upClosed atomic.Bool
	up := startRaw(t, func(_ int, c net.Conn, br *bufio.Reader) {
		for {
			r, _, err := readReq(br)
			if err != nil {
				return
			}
			if r.URL.Path == "/up/ok" {
				_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
				continue
			}
			time.Sleep(200 * time.Millisecond)
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\n\r\n")
			_, _ = c.Write(make([]byte, 1024))
			_, _ = io.Copy(io.Discard, br)
			upClosed.Store(true)
			return
		}
	})
	lc := proxyLoop()
	lc.Loops = 1
	tu := &testUpstream{}
	s := start(t, echo, lc, Config{MaxBodyBytes: 1024, Proxy: &ProxyConfig{
		Upstream: tu, Addr: up.addr(), Timeout: 5 * time.Second, MaxConnsPerLoop: 1,
	}})
	flood := dial(t, s.addr)
	flood.send(t, get("/up/flood"))
	flooded := make(chan struct{})
	go func() {
		// Written while brink waits for the upstream; brink stops the
		// connection past MaxHeaderBytes+MaxBodyBytes pending.
		defer close(flooded)
		junk := bytes.Repeat([]byte("x"), 64<<10)
		_ = flood.SetWriteDeadline(time.Now().Add(time.Second))
		for range 64 {
			if _, err := flood.Write(junk); err != nil {
				return
			}
		}
	}()
	time.Sleep(400 * time.Millisecond) // the upstream's head has come
	c := dial(t, s.addr)
	c.send(t, get("/up/ok"))
	if r, body := readResp(t, c, "GET"); r.StatusCode != 200 {
		tu.mu.Lock()
		defer tu.mu.Unlock()
		t.Fatalf("the next client's request: %d %q (outcomes %v %q); the flooding client's upstream connection closed: %v",
			r.StatusCode, body, tu.counts(), tu.errs, upClosed.Load())
	}
	// The flooding client, which neither reads nor closes, is closed
	// within the loop's linger time (2 s) whatever it sends: not held
	// open by the forward that ended.
	<-flooded
	deadline := time.Now().Add(5 * time.Second)
	_ = flood.SetWriteDeadline(deadline.Add(time.Second))
	var werr error
	for werr == nil && time.Now().Before(deadline) {
		_, werr = flood.Write([]byte("x"))
		time.Sleep(50 * time.Millisecond)
	}
	if ne := (net.Error)(nil); werr == nil || errors.As(werr, &ne) && ne.Timeout() {
		t.Fatalf("the flooding client's connection is still open 5 s after its forward ended (%v)", werr)
	}
}

// TestProxyDialTimeout answers 504 when the upstream's connection cannot
// be made in time (a listener whose accept queue is full drops SYNs).
func TestProxyDialTimeout(t *testing.T) {
	t.Parallel()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
	// Fill the accept queue; the listener never accepts.
	for full := false; !full; {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			full = true
			continue
		}
		t.Cleanup(func() { _ = c.Close() })
	}
	s, tu := startProxy(t, addr, ProxyConfig{Timeout: 500 * time.Millisecond}, proxyLoop())
	c := dial(t, s.addr)
	c.send(t, get("/up/blackhole"))
	expect(t, c, "GET", 504, `{"error":"Gateway Timeout"}`)
	c.send(t, get("/other"))
	expect(t, c, "GET", 200, "GET /other ")
	tu.waitCounts(t, [5]int64{0, 0, 0, 1, 0})
}

// closeBody is the close-delimited answer's body.
var closeBody = strings.Repeat("close-delimited body. ", 500)

// trickleAnswer is sent a few bytes a write: a 103, then a chunked answer
// with a chunk extension and a trailer.
const trickleAnswer = "HTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\n" +
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Trickle: yes\r\n\r\n" +
	"5\r\nhello\r\n1;ext=1\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: t\r\n\r\n"

// malformedAnswers are answers the proxy refuses (502), by path.
var malformedAnswers = map[string]string{
	"/up/malformed/status":   "HTTP/1.1 2OO OK\r\n\r\n",
	"/up/malformed/length":   "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
	"/up/malformed/not-http": "SSH-2.0-OpenSSH_9.2\r\n",
	"/up/malformed/upgrade":  "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
}

// rawFixture is one proxy in front of a hand-written upstream that
// answers each request as its path's second segment says, shared by the
// subtests of TestProxyRawUpstream.
type rawFixture struct {
	s    *server
	tu   *testUpstream
	up   *rawUpstream
	left chan error // how the upstream connection of /up/leave ended
}

// answerRaw answers one request r on an upstream connection; false ends
// the connection.
func (f *rawFixture) answerRaw(c net.Conn, br *bufio.Reader, r *http.Request, body []byte) bool {
	write := func(a string) bool { _, err := io.WriteString(c, a); return err == nil }
	p := r.URL.Path
	switch scenario, _, _ := strings.Cut(strings.TrimPrefix(p, "/up/"), "/"); scenario {
	case "close":
		write("HTTP/1.1 200 OK\r\nX-Kind: close\r\n\r\n" + closeBody[:100])
		time.Sleep(20 * time.Millisecond)
		write(closeBody[100:])
		return false
	case "head":
		return write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
	case "204":
		return write("HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n")
	case "304":
		return write("HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\nContent-Length: 50\r\n\r\n")
	case "hints":
		write("HTTP/1.1 103 Early Hints\r\nLink: x\r\n\r\n")
		time.Sleep(10 * time.Millisecond)
		return write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	case "leave":
		write("HTTP/1.1 200 OK\r\nContent-Length: 10485760\r\n\r\n")
		_, _ = c.Write(make([]byte, 64<<10))
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err := br.ReadByte()
		f.left <- err
		return false
	case "cut":
		write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this")
		return false
	case "trickle":
		for b := trickleAnswer; len(b) > 0; b = b[min(len(b), 3):] {
			if !write(b[:min(len(b), 3)]) {
				return false
			}
			time.Sleep(200 * time.Microsecond)
		}
		return true
	case "http10":
		if p == "/up/http10/length" {
			write("HTTP/1.0 200 OK\r\nContent-Length: 6\r\n\r\nlength")
		} else {
			write("HTTP/1.0 200 OK\r\n\r\nuntil close")
		}
		return false
	case "malformed":
		write(malformedAnswers[p])
		_, _ = io.Copy(io.Discard, br)
		return false
	case "bighead":
		// Over the default MaxAnswerHeadBytes (64 KiB).
		write("HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("b", 70<<10) + "\r\nContent-Length: 2\r\n\r\nok")
		_, _ = io.Copy(io.Discard, br)
		return false
	case "body":
		a := fmt.Sprintf("%s %d %q", r.Method, r.ContentLength, body)
		return write(fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(a), a))
	}
	return write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
}

// TestProxyRawUpstream runs the cases of hand-written upstream answers,
// one at a time, on one proxy; each starts with the outcome counts at 0.
func TestProxyRawUpstream(t *testing.T) {
	t.Parallel()
	f := &rawFixture{left: make(chan error, 1)}
	f.up = startRaw(t, func(_ int, c net.Conn, br *bufio.Reader) {
		for {
			r, body, err := readReq(br)
			if err != nil || !f.answerRaw(c, br, r, body) {
				return
			}
		}
	})
	f.s, f.tu = startProxy(t, f.up.addr(), ProxyConfig{MaxBodyBytes: 1024}, proxyLoop())
	for _, tc := range []struct {
		name string
		run  func(*testing.T, *rawFixture)
	}{
		{"close-delimited", proxyCloseDelimited},
		{"no-body answers", proxyNoBodyAnswers},
		{"interim", proxyInterim},
		{"client leaves", proxyClientLeaves},
		{"malformed", proxyMalformed},
		{"cut body", proxyCutBody},
		{"trickle", proxyTrickle},
		{"HTTP/1.0 upstream", proxyHTTP10Upstream},
		{"answer head too large", proxyAnswerHeadTooLarge},
		{"body too large", proxyBodyTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for i := range f.tu.done {
				f.tu.done[i].Store(0)
			}
			f.tu.retried.Store(0)
			tc.run(t, f)
		})
	}
}

// proxyCloseDelimited passes an answer that ends when the upstream
// closes; the client's connection ends with it.
func proxyCloseDelimited(t *testing.T, f *rawFixture) {
	c := dial(t, f.s.addr)
	c.send(t, get("/up/close"))
	r := expect(t, c, "GET", 200, closeBody)
	if !r.Close || r.Header.Get("X-Kind") != "close" {
		t.Fatalf("close-delimited answer: close %v header %v", r.Close, r.Header)
	}
	c.closed(t)
	f.tu.waitCounts(t, [5]int64{1, 0, 0, 0, 0})
}

// proxyNoBodyAnswers: the answers to HEAD, 204 and 304 have no body
// whatever their Content-Length says, and the connections go on.
func proxyNoBodyAnswers(t *testing.T, f *rawFixture) {
	c := dial(t, f.s.addr)
	c.send(t, "HEAD /up/head HTTP/1.1\r\nHost: t\r\n\r\n")
	if r := expect(t, c, "HEAD", 200, ""); r.ContentLength != 100 {
		t.Fatalf("HEAD answer Content-Length %d, want the upstream's 100", r.ContentLength)
	}
	first := f.up.accepts.Load()
	c.send(t, get("/up/ok"))
	expect(t, c, "GET", 200, "ok")
	c.send(t, get("/up/204"))
	expect(t, c, "GET", 204, "")
	c.send(t, get("/up/ok"))
	expect(t, c, "GET", 200, "ok")
	c.send(t, get("/up/304"))
	expect(t, c, "GET", 304, "")
	c.send(t, get("/up/ok"))
	expect(t, c, "GET", 200, "ok")
	if n := f.up.accepts.Load(); n != first {
		t.Fatalf("the upstream saw %d new connections after the HEAD, want the HEAD's kept", n-first)
	}
	f.tu.waitCounts(t, [5]int64{6, 0, 0, 0, 0})
}

// proxyInterim drops a 103 Early Hints before the real answer.
func proxyInterim(t *testing.T, f *rawFixture) {
	c := dial(t, f.s.addr)
	for range 2 {
		c.send(t, get("/up/hints"))
		line, err := c.br.Peek(12)
		if err != nil || string(line) != "HTTP/1.1 200" {
			t.Fatalf("answer starts %q (%v), want HTTP/1.1 200", line, err)
		}
		expect(t, c, "GET", 200, "ok")
	}
	f.tu.waitCounts(t, [5]int64{2, 0, 0, 0, 0})
}

// proxyClientLeaves closes the upstream connection when the client
// leaves in the middle of an answer.
func proxyClientLeaves(t *testing.T, f *rawFixture) {
	closedBefore := f.tu.done[OutcomeClientClosed].Load()
	c := dial(t, f.s.addr)
	c.send(t, get("/up/leave"))
	r, err := http.ReadResponse(c.br, &http.Request{Method: "GET"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(r.Body, make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	_ = c.Close()
	select {
	case err := <-f.left:
		if !errors.Is(err, io.EOF) {
			t.Fatalf("the upstream read %v, want EOF: brink kept the connection", err)
		}
	case <-time.After(8 * time.Second):
		t.Fatal("the upstream connection stayed open")
	}
	if got := f.tu.counts(); got[0] != 0 {
		t.Fatalf("outcomes %v: a cut answer counted OK", got)
	}
	if f.tu.done[OutcomeClientClosed].Load() <= closedBefore {
		t.Fatal("the client leaving mid-answer was not reported as OutcomeClientClosed")
	}
}

// proxyMalformed answers 502 for answers that are not HTTP, or not one
// the proxy can pass, and the client's connection goes on.
func proxyMalformed(t *testing.T, f *rawFixture) {
	for path := range malformedAnswers {
		c := dial(t, f.s.addr)
		c.send(t, get(path))
		expect(t, c, "GET", 502, `{"error":"Bad Gateway"}`)
		c.send(t, get("/other"))
		expect(t, c, "GET", 200, "GET /other ")
	}
	f.tu.waitCounts(t, [5]int64{0, 0, int64(len(malformedAnswers)), 0, 0})
}

// proxyCutBody ends the client's connection when the upstream closes in
// the middle of a body: the client cannot be told otherwise.
func proxyCutBody(t *testing.T, f *rawFixture) {
	c := dial(t, f.s.addr)
	c.send(t, get("/up/cut"))
	r, err := http.ReadResponse(c.br, &http.Request{Method: "GET"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(r.Body)
	if !errors.Is(err, io.ErrUnexpectedEOF) || string(b) != "only this" {
		t.Fatalf("cut body %q, %v; want %q and an unexpected EOF", b, err, "only this")
	}
	f.tu.waitCounts(t, [5]int64{0, 0, 1, 0, 0})
}

// proxyTrickle passes an answer that arrives a few bytes at a time, over
// one kept-alive upstream connection.
func proxyTrickle(t *testing.T, f *rawFixture) {
	c := dial(t, f.s.addr)
	var first int64
	for i := range 2 {
		c.send(t, get("/up/trickle"))
		r := expect(t, c, "GET", 200, "hello world")
		if r.Header.Get("X-Trickle") != "yes" || r.Close {
			t.Fatalf("trickled answer: close %v header %v", r.Close, r.Header)
		}
		if i == 0 {
			first = f.up.accepts.Load()
		}
	}
	if n := f.up.accepts.Load(); n != first {
		t.Fatalf("the upstream saw %d new connections for the second answer, want none", n-first)
	}
	f.tu.waitCounts(t, [5]int64{2, 0, 0, 0, 0})
}

// proxyHTTP10Upstream passes HTTP/1.0 answers: one with Content-Length
// keeps the client's connection (not the upstream's), one delimited by
// the close ends both.
func proxyHTTP10Upstream(t *testing.T, f *rawFixture) {
	c := dial(t, f.s.addr)
	c.send(t, get("/up/http10/length"))
	if r := expect(t, c, "GET", 200, "length"); r.Close || r.ProtoMinor != 1 {
		t.Fatalf("HTTP/1.0 answer with a length: HTTP/1.%d close %v", r.ProtoMinor, r.Close)
	}
	c.send(t, get("/up/http10/close"))
	if r := expect(t, c, "GET", 200, "until close"); !r.Close {
		t.Fatal("a close-delimited HTTP/1.0 answer keeps the connection")
	}
	c.closed(t)
	f.tu.waitCounts(t, [5]int64{2, 0, 0, 0, 0})
}

// proxyAnswerHeadTooLarge answers 502 for an answer head over
// MaxAnswerHeadBytes.
func proxyAnswerHeadTooLarge(t *testing.T, f *rawFixture) {
	c := dial(t, f.s.addr)
	c.send(t, get("/up/bighead"))
	expect(t, c, "GET", 502, `{"error":"Bad Gateway"}`)
	c.send(t, get("/up/ok"))
	expect(t, c, "GET", 200, "ok")
	f.tu.waitCounts(t, [5]int64{1, 0, 1, 0, 0})
}

// proxyBodyTooLarge answers 413 for a body over ProxyConfig.MaxBodyBytes
// (1 KiB here) without asking the upstream, and goes on.
func proxyBodyTooLarge(t *testing.T, f *rawFixture) {
	c := dial(t, f.s.addr)
	before := f.up.accepts.Load()
	c.send(t, "POST /up/body HTTP/1.1\r\nHost: t\r\nContent-Length: 1025\r\n\r\n"+strings.Repeat("x", 1025))
	expect(t, c, "POST", 413, `{"error":"Request Entity Too Large"}`)
	if n := f.up.accepts.Load(); n != before {
		t.Fatal("the upstream was dialled for a body over the bound")
	}
	f.tu.waitCounts(t, [5]int64{0, 1, 0, 0, 0})
	body := strings.Repeat("y", 1024)
	c.send(t, "POST /up/body HTTP/1.1\r\nHost: t\r\nContent-Length: 1024\r\n\r\n"+body)
	expect(t, c, "POST", 200, fmt.Sprintf("POST 1024 %q", body))
	c.send(t, "POST /up/body HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: 1025\r\n\r\n"+strings.Repeat("x", 1025))
	if r := expect(t, c, "POST", 413, `{"error":"Request Entity Too Large"}`); !r.Close {
		t.Fatal("413 to Connection: close does not close")
	}
	c.closed(t)
	f.tu.waitCounts(t, [5]int64{1, 2, 0, 0, 0})
}

// TestProxyIdle408 drops a kept-alive upstream connection on which the
// upstream sends a 408 while it is idle: the next request goes to a new
// connection and gets its own answer, not the 408.
func TestProxyIdle408(t *testing.T) {
	t.Parallel()
	up := startRaw(t, func(i int, c net.Conn, br *bufio.Reader) {
		for n := 0; ; n++ {
			r, _, err := readReq(br)
			if err != nil {
				return
			}
			a := fmt.Sprintf("conn %d: %s", i, r.URL.Path)
			_, _ = fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(a), a)
			if i == 0 && n == 0 {
				time.Sleep(20 * time.Millisecond)
				_, _ = io.WriteString(c, "HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n")
			}
		}
	})
	s, tu := startProxy(t, up.addr(), ProxyConfig{}, proxyLoop())
	c := dial(t, s.addr)
	c.send(t, get("/up/1"))
	expect(t, c, "GET", 200, "conn 0: /up/1")
	time.Sleep(100 * time.Millisecond)
	c.send(t, get("/up/2"))
	expect(t, c, "GET", 200, "conn 1: /up/2")
	tu.waitCounts(t, [5]int64{2, 0, 0, 0, 0})
}
