package http1

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/brink-edge/brink/connsig"
	"github.com/brink-edge/brink/loop"
)

// echo answers with the method, the URI and the body, and honours a few
// test paths.
func echo(ctx *fasthttp.RequestCtx) {
	switch string(ctx.Path()) {
	case "/signal":
		carrier, ok := ctx.Conn().(connsig.Carrier)
		if !ok {
			ctx.Error("no carrier", 500)
			return
		}
		fmt.Fprintf(ctx, "ttl=%d peer=%s", carrier.Signal().TTL, ctx.RemoteAddr())
		return
	case "/stream":
		ctx.SetContentType("text/event-stream")
		ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
			for i := range 3 {
				fmt.Fprintf(w, "data: %d\n\n", i)
				if w.Flush() != nil {
					return
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
		return
	case "/close":
		ctx.SetConnectionClose()
	}
	fmt.Fprintf(ctx, "%s %s %s", ctx.Method(), ctx.RequestURI(), ctx.PostBody())
}

type ttlCapturer struct{}

func (ttlCapturer) Capture(_ int, s *connsig.Signal) error { s.TTL = 42; return nil }

type server struct {
	addr   string
	cancel context.CancelFunc
	done   chan error
}

func start(t *testing.T, h fasthttp.RequestHandler, lc loop.Config, hc Config) *server {
	t.Helper()
	hc.Handler = h
	hs, err := New(hc)
	if err != nil {
		t.Fatal(err)
	}
	if lc.Addr == "" {
		lc.Addr = "127.0.0.1:0"
	}
	if lc.Loops == 0 {
		lc.Loops = 2
	}
	ls, err := loop.New(lc, hs)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{addr: ls.Addr(), cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- ls.Run(ctx) }()
	select {
	case <-ls.Ready():
	case err := <-s.done:
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.done:
		case <-time.After(15 * time.Second):
			t.Error("server did not stop")
		}
	})
	return s
}

type client struct {
	net.Conn
	br *bufio.Reader
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { _ = c.Close() })
	return &client{c, bufio.NewReader(c)}
}

func (c *client) send(t *testing.T, s string) {
	t.Helper()
	if _, err := io.WriteString(c, s); err != nil {
		t.Fatal(err)
	}
}

// read reads one response.
func (c *client) read(t *testing.T) *fasthttp.Response {
	t.Helper()
	r := new(fasthttp.Response)
	if err := r.Read(c.br); err != nil {
		t.Fatalf("reading a response: %v", err)
	}
	return r
}

func (c *client) closed(t *testing.T) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := c.br.ReadByte()
	if err == nil {
		t.Fatalf("read %q, want the connection closed", b)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("connection still open after 5s")
	}
}

func get(path string) string { return "GET " + path + " HTTP/1.1\r\nHost: t\r\n\r\n" }

func TestKeepAlivePipelining(t *testing.T) {
	s := start(t, echo, loop.Config{}, Config{})
	c := dial(t, s.addr)
	for round := range 3 {
		c.send(t, get("/one?r="+strconv.Itoa(round)))
		if r := c.read(t); string(r.Body()) != "GET /one?r="+strconv.Itoa(round)+" " {
			t.Fatalf("round %d: %q", round, r.Body())
		}
	}
	const n = 100
	var b strings.Builder
	for i := range n {
		b.WriteString(get("/p/" + strconv.Itoa(i)))
	}
	c.send(t, b.String())
	for i := range n {
		r := c.read(t)
		if want := "GET /p/" + strconv.Itoa(i) + " "; string(r.Body()) != want || r.StatusCode() != 200 {
			t.Fatalf("pipelined response %d: %d %q, want %q", i, r.StatusCode(), r.Body(), want)
		}
		if r.ConnectionClose() {
			t.Fatalf("response %d closes the connection", i)
		}
	}
}

func TestPartialWrites(t *testing.T) {
	s := start(t, echo, loop.Config{}, Config{})
	c := dial(t, s.addr)
	msg := "POST /post HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello world" + get("/after")
	for i := range len(msg) {
		c.send(t, msg[i:i+1])
		if i%7 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	if r := c.read(t); string(r.Body()) != "POST /post hello world" {
		t.Fatalf("got %q", r.Body())
	}
	if r := c.read(t); string(r.Body()) != "GET /after " {
		t.Fatalf("got %q", r.Body())
	}
}

func TestChunkedBody(t *testing.T) {
	s := start(t, echo, loop.Config{}, Config{})
	c := dial(t, s.addr)
	c.send(t, "POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
	time.Sleep(20 * time.Millisecond)
	c.send(t, "6\r\n world\r\n0\r\n\r\n")
	if r := c.read(t); string(r.Body()) != "POST /c hello world" {
		t.Fatalf("got %q", r.Body())
	}
}

func TestRejections(t *testing.T) {
	s := start(t, echo, loop.Config{}, Config{MaxHeaderBytes: 1024, MaxBodyBytes: 100})
	tests := []struct {
		name   string
		in     string
		status int
	}{
		{"malformed", "NOT HTTP AT ALL\r\n\r\n", 400},
		{"no host", "GET / HTTP/1.1\r\n\r\n", 400},
		{"header too large", "GET / HTTP/1.1\r\nHost: t\r\nX: " + strings.Repeat("a", 2000) + "\r\n\r\n", 431},
		{"header too large, unterminated", "GET / HTTP/1.1\r\nHost: t\r\nX: " + strings.Repeat("a", 2000), 431},
		{"body too large", "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 101\r\n\r\n", 413},
		{"chunked body too large", "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n200\r\n" + strings.Repeat("b", 0x200) + "\r\n0\r\n\r\n", 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, s.addr)
			c.send(t, tt.in)
			r := c.read(t)
			if r.StatusCode() != tt.status || !r.ConnectionClose() {
				t.Fatalf("status %d close %v, want %d and close", r.StatusCode(), r.ConnectionClose(), tt.status)
			}
			c.closed(t)
		})
	}
}

func TestExpectContinue(t *testing.T) {
	s := start(t, echo, loop.Config{}, Config{})
	c := dial(t, s.addr)
	c.send(t, "POST /e HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
	line, err := c.br.ReadString('\n')
	if err != nil || line != "HTTP/1.1 100 Continue\r\n" {
		t.Fatalf("got %q %v, want 100 Continue", line, err)
	}
	if blank, _ := c.br.ReadString('\n'); blank != "\r\n" {
		t.Fatalf("got %q after 100 Continue", blank)
	}
	c.send(t, "body")
	if r := c.read(t); string(r.Body()) != "POST /e body" {
		t.Fatalf("got %q", r.Body())
	}
}

func TestHTTP10AndClose(t *testing.T) {
	s := start(t, echo, loop.Config{}, Config{})
	t.Run("HTTP/1.0 keep-alive", func(t *testing.T) {
		c := dial(t, s.addr)
		for range 2 {
			c.send(t, "GET /k HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
			r := c.read(t)
			if string(r.Header.Peek("Connection")) != "keep-alive" {
				t.Fatalf("Connection: %q", r.Header.Peek("Connection"))
			}
		}
	})
	t.Run("HTTP/1.0", func(t *testing.T) {
		c := dial(t, s.addr)
		c.send(t, "GET /k HTTP/1.0\r\n\r\n")
		if r := c.read(t); !r.ConnectionClose() {
			t.Fatal("HTTP/1.0 answer keeps the connection")
		}
		c.closed(t)
	})
	t.Run("request Connection: close", func(t *testing.T) {
		c := dial(t, s.addr)
		c.send(t, "GET /x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"+get("/dropped"))
		if r := c.read(t); !r.ConnectionClose() || string(r.Body()) != "GET /x " {
			t.Fatalf("close %v body %q", r.ConnectionClose(), r.Body())
		}
		c.closed(t)
	})
	t.Run("handler closes", func(t *testing.T) {
		c := dial(t, s.addr)
		c.send(t, get("/close"))
		if r := c.read(t); !r.ConnectionClose() {
			t.Fatal("no Connection: close")
		}
		c.closed(t)
	})
	t.Run("HEAD", func(t *testing.T) {
		c := dial(t, s.addr)
		c.send(t, "HEAD /h HTTP/1.1\r\nHost: t\r\n\r\n"+get("/next"))
		r := new(fasthttp.Response)
		r.SkipBody = true
		if err := r.Read(c.br); err != nil || r.Header.ContentLength() != len("HEAD /h ") {
			t.Fatalf("HEAD: %v, Content-Length %d", err, r.Header.ContentLength())
		}
		if r := c.read(t); string(r.Body()) != "GET /next " {
			t.Fatalf("after HEAD: %q", r.Body())
		}
	})
}

func TestSignalAndPeer(t *testing.T) {
	s := start(t, echo, loop.Config{Capturer: ttlCapturer{}}, Config{})
	c := dial(t, s.addr)
	c.send(t, get("/signal"))
	want := "ttl=42 peer=" + c.LocalAddr().String()
	if r := c.read(t); string(r.Body()) != want {
		t.Fatalf("got %q, want %q", r.Body(), want)
	}
}

func TestStreaming(t *testing.T) {
	s := start(t, echo, loop.Config{}, Config{})
	c := dial(t, s.addr)
	c.send(t, get("/before")+get("/stream")+get("/dropped"))
	if r := c.read(t); string(r.Body()) != "GET /before " {
		t.Fatalf("got %q", r.Body())
	}
	r := c.read(t)
	if want := "data: 0\n\ndata: 1\n\ndata: 2\n\n"; string(r.Body()) != want || !r.ConnectionClose() {
		t.Fatalf("stream: close %v body %q, want %q", r.ConnectionClose(), r.Body(), want)
	}
	c.closed(t)
}

func TestSlowClient(t *testing.T) {
	s := start(t, echo, loop.Config{ReadHeaderTimeout: 200 * time.Millisecond}, Config{})
	c := dial(t, s.addr)
	c.send(t, "GET / HTTP/1.1\r\nHost: t\r\n")
	start := time.Now()
	c.closed(t)
	if d := time.Since(start); d < 150*time.Millisecond || d > 2*time.Second {
		t.Errorf("slow client closed after %v", d)
	}
}

func TestShutdownDrainsInFlight(t *testing.T) {
	var calls atomic.Int64
	h := func(ctx *fasthttp.RequestCtx) { calls.Add(1); echo(ctx) }
	s := start(t, h, loop.Config{ShutdownGrace: 5 * time.Second}, Config{})
	c := dial(t, s.addr)
	c.send(t, "POST /inflight HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nbo")
	time.Sleep(20 * time.Millisecond)
	s.cancel()
	time.Sleep(20 * time.Millisecond)
	c.send(t, "dy")
	r := c.read(t)
	if string(r.Body()) != "POST /inflight body" || !r.ConnectionClose() {
		t.Fatalf("in-flight request: close %v body %q", r.ConnectionClose(), r.Body())
	}
	c.closed(t)
	select {
	case err := <-s.done:
		if err != nil {
			t.Fatal(err)
		}
		s.done <- nil
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
}

// TestOffload runs a request Offload picks on its own goroutine: while its
// handler waits, the same loop answers another connection; its answer
// closes the connection and drops what was pipelined behind it; the
// handler still sees the connection's signal and peer.
func TestOffload(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{})
	h := func(ctx *fasthttp.RequestCtx) {
		if string(ctx.Path()) == "/wait" {
			close(entered)
			<-release
			carrier, _ := ctx.Conn().(connsig.Carrier)
			fmt.Fprintf(ctx, "waited ttl=%d peer-ok=%v", carrier.Signal().TTL, ctx.RemoteAddr().String() != "")
			return
		}
		echo(ctx)
	}
	offload := func(ctx *fasthttp.RequestCtx) bool { return string(ctx.Path()) == "/wait" }
	s := start(t, h, loop.Config{Loops: 1, Capturer: ttlCapturer{}}, Config{Offload: offload})

	slow := dial(t, s.addr)
	slow.send(t, get("/before")+get("/wait")+get("/dropped"))
	if r := slow.read(t); string(r.Body()) != "GET /before " {
		t.Fatalf("request before the offloaded one: %q", r.Body())
	}
	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the offloaded handler did not run")
	}
	// The only loop is free while /wait's handler waits.
	fast := dial(t, s.addr)
	fast.send(t, get("/fast"))
	if r := fast.read(t); string(r.Body()) != "GET /fast " {
		t.Fatalf("other connection during the offloaded request: %q", r.Body())
	}
	close(release)
	r := slow.read(t)
	if want := "waited ttl=42 peer-ok=true"; string(r.Body()) != want || !r.ConnectionClose() {
		t.Fatalf("offloaded answer: close %v body %q, want %q", r.ConnectionClose(), r.Body(), want)
	}
	slow.closed(t)
}
