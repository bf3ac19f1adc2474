package tlsterm

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/brink-edge/brink/connsig"
	"github.com/brink-edge/brink/loop"
	"github.com/brink-edge/brink/proto/http1"
)

// lineService is an HTTPConnService speaking a line protocol the way
// http1.Server.ServeConn speaks HTTP: it reports its state through
// HTTPNew, HTTPActive and HTTPIdle, answers "done\n" to each line ("slow"
// waits for release first), and "done close\n" then closes while the
// Server drains.
func lineService(started chan<- struct{}, release <-chan struct{}) HTTPConnService {
	return HTTPConnService{Serve: func(nc net.Conn) error {
		c := nc.(*Conn)
		c.HTTPNew()
		br := bufio.NewReader(c)
		for first := true; ; first = false {
			if !first && c.HTTPIdle() {
				return nil
			}
			if _, err := br.Peek(1); err != nil {
				return err
			}
			c.HTTPActive()
			line, err := br.ReadString('\n')
			if err != nil {
				return err
			}
			if line == "slow\n" {
				started <- struct{}{}
				<-release
			}
			if c.Draining() {
				_, err := io.WriteString(c, "done close\n")
				return err
			}
			if _, err := io.WriteString(c, "done\n"); err != nil {
				return err
			}
		}
	}}
}

// TestHTTPStateDrain: with a service reporting its state through Conn's
// HTTP methods, Shutdown closes at once a connection idle after a request
// and one that sent nothing, lets the one in a request finish (told to
// close), and returns when it is gone.
func TestHTTPStateDrain(t *testing.T) { eachMode(t, testHTTPStateDrain) }

func testHTTPStateDrain(t *testing.T, m mode) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	cfg := baseConfig()
	cfg.Services["api"] = lineService(started, release)
	ts := m.start(t, cfg, loop.Config{})
	dial := func() (*tls.Conn, *bufio.Reader) {
		c, err := tls.Dial("tcp", ts.addr, clientConfig("engine.test", 0, "http/1.1"))
		if err != nil {
			t.Fatal(err)
		}
		if p := c.ConnectionState().NegotiatedProtocol; p != "http/1.1" {
			t.Fatalf("ALPN %q, want http/1.1", p)
		}
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		t.Cleanup(func() { _ = c.Close() })
		return c, bufio.NewReader(c)
	}
	idle, idleR := dial()
	_, _ = io.WriteString(idle, "fast\n")
	if line, err := idleR.ReadString('\n'); err != nil || line != "done\n" {
		t.Fatalf("first line: %q %v", line, err)
	}
	_, quietR := dial()
	busy, busyR := dial()
	_, _ = io.WriteString(busy, "slow\n")
	<-started
	deadline := time.Now().Add(3 * time.Second)
	for ts.Open() != 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := ts.Open(); n != 3 {
		t.Fatalf("%d open connections, want 3", n)
	}

	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- ts.Shutdown(ctx)
	}()
	for name, r := range map[string]*bufio.Reader{"idle": idleR, "new": quietR} {
		if b, err := r.ReadByte(); err != io.EOF {
			t.Fatalf("%s connection: read %q, %v, want EOF", name, b, err)
		}
	}
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned %v with a request in progress", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	if line, err := busyR.ReadString('\n'); err != nil || line != "done close\n" {
		t.Fatalf("request in progress: %q %v, want the closing answer", line, err)
	}
	if _, err := busyR.ReadByte(); err != io.EOF {
		t.Fatalf("busy connection after its answer: %v, want EOF", err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Shutdown did not return after the last request")
	}
	if n := ts.Open(); n != 0 {
		t.Fatalf("%d connections left open", n)
	}
}

// tlsUpstream is the http1.Upstream of TestHTTP1ServeConn: /up goes to
// the upstream with Host: upstream and X-TLS saying what the handler's
// ctx.IsTLS said.
type tlsUpstream struct{ done atomic.Int64 }

func (u *tlsUpstream) Match(ctx *fasthttp.RequestCtx) bool {
	return strings.HasPrefix(string(ctx.Path()), "/up")
}

func (u *tlsUpstream) AppendRequestHead(dst []byte, ctx *fasthttp.RequestCtx, _ []byte, bodyLen int) ([]byte, bool) {
	dst = fmt.Appendf(dst, "%s %s HTTP/1.1\r\nHost: upstream\r\nX-TLS: %v\r\nContent-Length: %d\r\n\r\n",
		ctx.Method(), ctx.RequestURI(), ctx.IsTLS(), bodyLen)
	return dst, true
}

func (u *tlsUpstream) AppendErrorAnswer(dst []byte, _ http1.Outcome, closeConn bool) []byte {
	dst = append(dst, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n"...)
	if closeConn {
		dst = append(dst, "Connection: close\r\n"...)
	}
	return append(dst, "\r\n"...)
}

func (u *tlsUpstream) Done(http1.Outcome, error) { u.done.Add(1) }
func (u *tlsUpstream) Retried()                  {}

// TestHTTP1ServeConn serves terminated connections with
// http1.Server.ServeConn through HTTPConnService: ALPN http/1.1, handlers
// see IsTLS and the connection's TLS signal, /up is forwarded as bytes to
// an upstream over a kept-alive connection, and Shutdown closes the idle
// connection at once (ServeConn reports its state to Conn).
func TestHTTP1ServeConn(t *testing.T) { eachMode(t, testHTTP1ServeConn) }

func testHTTP1ServeConn(t *testing.T, m mode) {
	var upConns atomic.Int64
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "upstream %s host=%s tls=%s", r.URL.Path, r.Host, r.Header.Get("X-TLS"))
	}))
	up.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			upConns.Add(1)
		}
	}
	up.Start()
	t.Cleanup(up.Close)
	u := &tlsUpstream{}
	hs, err := http1.New(http1.Config{
		Handler: func(ctx *fasthttp.RequestCtx) {
			sni := ""
			if c, ok := ctx.Conn().(connsig.Carrier); ok {
				s := &c.Signal().TLS
				sni = string(s.SNI[:s.SNILen])
			}
			fmt.Fprintf(ctx, "local tls=%v sni=%s", ctx.IsTLS(), sni)
		},
		Proxy: &http1.ProxyConfig{Upstream: u, Addr: up.Listener.Addr().String()},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hs.CloseIdleUpstreams)
	cfg := baseConfig()
	cfg.Services["api"] = HTTPConnService{Serve: hs.ServeConn}
	ts := m.start(t, cfg, loop.Config{})

	c, err := tls.Dial("tcp", ts.addr, clientConfig("engine.test", 0, "h2", "http/1.1"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if p := c.ConnectionState().NegotiatedProtocol; p != "http/1.1" {
		t.Fatalf("ALPN %q, want http/1.1", p)
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	for _, tc := range []struct{ path, want string }{
		{"/local", "local tls=true sni=engine.test"},
		{"/up/a", "upstream /up/a host=upstream tls=true"},
		{"/up/b", "upstream /up/b host=upstream tls=true"},
	} {
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: engine.test\r\n\r\n", tc.path)
		var resp fasthttp.Response
		if err := resp.Read(br); err != nil {
			t.Fatalf("%s: %v", tc.path, err)
		}
		if string(resp.Body()) != tc.want || resp.ConnectionClose() {
			t.Fatalf("%s: %q close=%v, want %q kept alive", tc.path, resp.Body(), resp.ConnectionClose(), tc.want)
		}
	}
	if n, d := upConns.Load(), u.done.Load(); n != 1 || d != 2 {
		t.Fatalf("the upstream saw %d connections and %d outcomes were recorded, want 1 and 2", n, d)
	}

	deadline := time.Now().Add(3 * time.Second)
	for ts.Open() != 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- ts.Shutdown(ctx)
	}()
	if b, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("idle connection during Shutdown: read %q, %v, want EOF", b, err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Shutdown did not return")
	}
}
