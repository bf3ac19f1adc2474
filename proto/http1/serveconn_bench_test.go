//go:build !race

package http1

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"net"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/brink-edge/brink/relay"
)

// scPayload is the upstream answer's body in the alloc test and the
// benchmarks: a 2 KiB JSON-ish document, about a relayed answer's size.
var scPayload = bytes.Repeat([]byte(`{"name":"flag","enabled":true},`), 66)

// scBigPayload is the body of /up/big: 64 KiB.
var scBigPayload = bytes.Repeat(scPayload[:1024], 64)

// scFastUpstream starts a fasthttp upstream answering scPayload, or
// scBigPayload for /up/big.
func scFastUpstream(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("application/json")
		if string(ctx.Path()) == "/up/big" {
			ctx.SetBody(scBigPayload)
			return
		}
		ctx.SetBody(scPayload)
	}}
	done := make(chan struct{})
	go func() { _ = srv.Serve(ln); close(done) }()
	tb.Cleanup(func() { _ = srv.Shutdown(); <-done })
	return ln.Addr().String()
}

// scServe accepts connections on 127.0.0.1 (over TLS with conf) and runs
// serve on each; it returns a dial for clients (trusting pool).
func scServe(tb testing.TB, serve func(net.Conn) error, tlsOn bool) func() net.Conn {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var clientTLS *tls.Config
	if tlsOn {
		cert, pool := scCert(tb, "front.test")
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}})
		clientTLS = &tls.Config{RootCAs: pool, ServerName: "front.test"}
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() { _ = serve(c) })
		}
	})
	tb.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return func() net.Conn {
		var c net.Conn
		var err error
		if clientTLS != nil {
			c, err = tls.Dial("tcp", ln.Addr().String(), clientTLS)
		} else {
			c, err = net.Dial("tcp", ln.Addr().String())
		}
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { _ = c.Close() })
		return c
	}
}

// scReadAnswer reads one answer with a Content-Length body from br
// without allocating and returns its status.
func scReadAnswer(br *bufio.Reader) (int, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	if len(line) < 12 {
		return 0, errors.New("short status line")
	}
	status := int(line[9]-'0')*100 + int(line[10]-'0')*10 + int(line[11]-'0')
	cl := -1
	for {
		line, err = br.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		if len(line) <= 2 {
			break
		}
		const name = "content-length:"
		if len(line) > len(name) && bytes.EqualFold(line[:len(name)], []byte(name)) {
			cl = 0
			for _, c := range bytes.TrimSpace(line[len(name):]) {
				cl = cl*10 + int(c-'0')
			}
		}
	}
	if cl < 0 {
		return 0, errors.New("no Content-Length")
	}
	_, err = br.Discard(cl)
	return status, err
}

// scProxyFront is the front under test: ServeConn forwarding /up to the
// upstream.
func scProxyFront(tb testing.TB, upstream string) *Server {
	tb.Helper()
	s, err := New(Config{Handler: echo, Proxy: &ProxyConfig{Upstream: &testUpstream{}, Addr: upstream}})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.CloseIdleUpstreams)
	return s
}

// scHostClientFront is the path ServeConn replaces: fasthttp.Server's
// ServeConn with a handler relaying through fasthttp.HostClient (the
// rewriting relay.Handle does beyond Host and one field is left out, so
// this is a lower bound of its cost).
func scHostClientFront(upstream string) *fasthttp.Server {
	hc := &fasthttp.HostClient{Addr: upstream, MaxConns: 512}
	return &fasthttp.Server{
		Handler: func(ctx *fasthttp.RequestCtx) {
			if !bytes.HasPrefix(ctx.Path(), upPrefix) {
				echo(ctx)
				return
			}
			req := &ctx.Request
			req.URI().SetScheme("http") // the upstream's, not the front's https
			req.Header.SetHost("upstream")
			req.Header.Set("X-Test-Forwarded", "1")
			if err := hc.Do(req, &ctx.Response); err != nil {
				ctx.Error("bad gateway: "+err.Error(), fasthttp.StatusBadGateway)
			}
		},
		NoDefaultServerHeader: true,
		ReadTimeout:           15 * time.Second,
		IdleTimeout:           90 * time.Second,
		MaxRequestBodySize:    4 << 20,
		ReadBufferSize:        8 << 10,
	}
}

// scRelay is brink's relay forwarding /up to upstream.
func scRelay(tb testing.TB, upstream string) *relay.Relay {
	tb.Helper()
	r, err := relay.New(relay.Config{URL: "http://" + upstream, License: "bench-licence", Routes: []relay.Route{{PathPrefix: "/up"}}})
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// scRelayUpstream is the relay as ServeConn's Upstream, as cmd/brink
// adapts it for the loop (relay.Outcome has http1.Outcome's values).
type scRelayUpstream struct{ r *relay.Relay }

func (u scRelayUpstream) Match(ctx *fasthttp.RequestCtx) bool { return u.r.Match(ctx) }
func (u scRelayUpstream) AppendRequestHead(dst []byte, ctx *fasthttp.RequestCtx, raw []byte, n int) ([]byte, bool) {
	return u.r.AppendRequestHead(dst, ctx, raw, n)
}
func (u scRelayUpstream) AppendErrorAnswer(dst []byte, o Outcome, closeConn bool) []byte {
	return relay.AppendErrorAnswer(dst, relay.Outcome(o), closeConn)
}
func (u scRelayUpstream) Done(o Outcome, err error) { u.r.Done(relay.Outcome(o), err) }
func (u scRelayUpstream) Retried()                  { u.r.Retried() }

// scRelayFronts are the relay's two TLS paths: ServeConn with the relay as
// Upstream ("relaybytes"), and fasthttp.Server with relay.Handle
// ("relayhandle", today's).
func scRelayFronts(tb testing.TB, upstream string) (bytesFront, handleFront func(net.Conn) error) {
	r := scRelay(tb, upstream)
	s, err := New(Config{Handler: echo, Proxy: &ProxyConfig{Upstream: scRelayUpstream{r}, Addr: upstream}})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.CloseIdleUpstreams)
	fs := scHostClientFront(upstream)
	fs.Handler = r.Handle
	return s.ServeConn, fs.ServeConn
}

var (
	scRequest    = []byte("GET /up/features?x=1 HTTP/1.1\r\nHost: front\r\nUser-Agent: bench\r\nAccept: application/json\r\n\r\n")
	scBigRequest = []byte("GET /up/big HTTP/1.1\r\nHost: front\r\nUser-Agent: bench\r\nAccept: application/json\r\n\r\n")
)

// TestServeConnAllocs: a forwarded request allocates nothing once the
// pools are warm, with the test Upstream and with brink's relay (client,
// front and upstream all count: they share the process). Over crypto/tls,
// the only allocations are crypto/tls's own: Conn.readFromUntil allocates
// an atLeastReader per record read (Go 1.26), one for the request on the
// front, one for the answer on the client.
func TestServeConnAllocs(t *testing.T) {
	up := scFastUpstream(t)
	relayFront, _ := scRelayFronts(t, up)
	for _, tc := range []struct {
		name  string
		serve func(net.Conn) error
		tls   bool
		want  float64
	}{
		{"plain", scProxyFront(t, up).ServeConn, false, 0},
		{"tls", scProxyFront(t, up).ServeConn, true, 2},
		{"relay", relayFront, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := scServe(t, tc.serve, tc.tls)()
			_ = c.SetDeadline(time.Now().Add(30 * time.Second))
			br := bufio.NewReader(c)
			var failed error
			run := func() {
				if _, err := c.Write(scRequest); err != nil {
					failed = err
					return
				}
				if st, err := scReadAnswer(br); err != nil || st != 200 {
					failed = errors.Join(err, errors.New("status "+strconv.Itoa(st)))
				}
			}
			for range 50 {
				run()
			}
			n := minAllocs(run)
			if failed != nil {
				t.Fatal(failed)
			}
			if n > tc.want {
				t.Errorf("%v allocations per forwarded request, want %v", n, tc.want)
			}
		})
	}
}

// BenchmarkServeConnProxy times one forwarded GET from a client over one
// kept-alive connection, through ServeConn ("bytes") and through
// fasthttp.Server.ServeConn with a HostClient handler ("hostclient", the
// path it replaces), and the same with brink's relay as the Upstream
// ("relaybytes") against relay.Handle ("relayhandle"), over plain TCP and
// crypto/tls, with a 2 KiB answer;
// "parallel" (2 KiB) and "parallel64k" (64 KiB) run 8 connections per
// core (RunParallel), so ns/op is the machine's CPU time per request.
// Client, front and upstream share the machine's cores.
func BenchmarkServeConnProxy(b *testing.B) {
	up := scFastUpstream(b)
	fronts := []struct {
		name  string
		serve func() func(net.Conn) error
	}{
		{"bytes", func() func(net.Conn) error { return scProxyFront(b, up).ServeConn }},
		{"hostclient", func() func(net.Conn) error { return scHostClientFront(up).ServeConn }},
		{"relaybytes", func() func(net.Conn) error { f, _ := scRelayFronts(b, up); return f }},
		{"relayhandle", func() func(net.Conn) error { _, f := scRelayFronts(b, up); return f }},
	}
	for _, mode := range []string{"plain", "tls", "parallel", "parallel64k"} {
		req := scRequest
		if mode == "parallel64k" {
			req = scBigRequest
		}
		for _, f := range fronts {
			b.Run(mode+"/"+f.name, func(b *testing.B) {
				dial := scServe(b, f.serve(), mode == "tls")
				b.ReportAllocs()
				if mode == "parallel" || mode == "parallel64k" {
					b.SetParallelism(8) // 8 connections per core: the CPU, not latency, bounds
					b.RunParallel(func(pb *testing.PB) {
						c := dial()
						br := bufio.NewReaderSize(c, 64<<10)
						for pb.Next() && scBenchRound(b, c, br, req) {
						}
					})
					return
				}
				c := dial()
				br := bufio.NewReader(c)
				if !scBenchRound(b, c, br, req) { // dials the upstream before timing
					return
				}
				for b.Loop() && scBenchRound(b, c, br, req) {
				}
			})
		}
	}
}

// scBenchRound sends req and reads its answer; false (after b.Error) when
// that failed.
func scBenchRound(b *testing.B, c net.Conn, br *bufio.Reader, req []byte) bool {
	if _, err := c.Write(req); err != nil {
		b.Error(err)
		return false
	}
	if st, err := scReadAnswer(br); err != nil || st != 200 {
		b.Error("status", st, err)
		return false
	}
	return true
}

// BenchmarkServeConnIdleMemory reports the heap held per idle kept-alive
// connection (plain TCP, after one forwarded request each) by ServeConn
// ("bytes", which pools its buffers once a connection waited
// serveConnHotWait) and by
// fasthttp.Server.ServeConn with HostClient ("hostclient"); goroutine
// stacks are not counted.
func BenchmarkServeConnIdleMemory(b *testing.B) {
	up := scFastUpstream(b)
	const conns = 200
	for _, f := range []struct {
		name  string
		serve func() func(net.Conn) error
	}{
		{"bytes", func() func(net.Conn) error { return scProxyFront(b, up).ServeConn }},
		{"hostclient", func() func(net.Conn) error { return scHostClientFront(up).ServeConn }},
	} {
		b.Run(f.name, func(b *testing.B) {
			var perConn float64
			for b.Loop() {
				dial := scServe(b, f.serve(), false)
				warm := dial()
				if !scBenchRound(b, warm, bufio.NewReader(warm), scRequest) {
					return
				}
				var before, after runtime.MemStats
				runtime.GC()
				runtime.GC()
				runtime.ReadMemStats(&before)
				cs := make([]net.Conn, conns)
				for i := range cs {
					cs[i] = dial()
					if !scBenchRound(b, cs[i], bufio.NewReader(cs[i]), scRequest) {
						return
					}
				}
				time.Sleep(serveConnHotWait + 100*time.Millisecond) // the servers reach their long idle wait
				runtime.GC()
				runtime.GC() // a sync.Pool keeps what it holds for one more cycle
				runtime.ReadMemStats(&after)
				perConn = float64(after.HeapAlloc-before.HeapAlloc) / conns
				for _, c := range cs {
					_ = c.Close()
				}
			}
			b.ReportMetric(perConn, "B/idleconn")
		})
	}
}
