package http1

import (
	"bufio"
	"context"
	"net"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/brink-edge/brink/loop"
)

// benchUpstream starts a fasthttp upstream answering a small JSON body.
func benchUpstream(b *testing.B) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	body := []byte(`{"version":1,"features":[{"name":"a","enabled":true}]}`)
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("application/json")
		ctx.SetBody(body)
	}}
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(func() { _ = srv.Shutdown() })
	return ln.Addr().String()
}

// benchGets sends sequential GETs of path on one connection to addr.
func benchGets(b *testing.B, addr, path string) {
	b.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	req := []byte("GET " + path + " HTTP/1.1\r\nHost: bench\r\nUser-Agent: bench\r\n\r\n")
	br := bufio.NewReaderSize(c, 16<<10)
	var resp fasthttp.Response
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		if err := resp.Read(br); err != nil {
			b.Fatal(err)
		}
		if resp.StatusCode() != 200 || len(resp.Body()) == 0 {
			b.Fatalf("answer %d %q", resp.StatusCode(), resp.Body())
		}
	}
}

// BenchmarkProxy measures one client connection's sequential GETs through
// the loop's proxy to a fasthttp upstream on localhost, against the same
// GETs sent to the upstream directly and to a loop Handler (the
// allocations include the upstream's and the client's). Run it under the bench lock:
//
//	flock /tmp/brink-bench.lock go test -run XXX -bench '^BenchmarkProxy$' -benchtime=2000x ./proto/http1/
func BenchmarkProxy(b *testing.B) {
	up := benchUpstream(b)
	b.Run("direct", func(b *testing.B) { benchGets(b, up, "/up/api/client/features") })
	b.Run("proxy", func(b *testing.B) {
		tu := &testUpstream{}
		hs, err := New(Config{Handler: echo, Proxy: &ProxyConfig{Upstream: tu, Addr: up}})
		if err != nil {
			b.Fatal(err)
		}
		s := startBench(b, hs)
		benchGets(b, s, "/up/api/client/features")
		if n := tu.done[OutcomeOK].Load(); n == 0 {
			b.Fatal("nothing forwarded")
		}
	})
	// The loop's own round trip: a request answered by the Handler.
	b.Run("loop-handler", func(b *testing.B) {
		hs, err := New(Config{Handler: echo})
		if err != nil {
			b.Fatal(err)
		}
		benchGets(b, startBench(b, hs), "/other")
	})
}

// startBench runs a loop server with h until the benchmark ends and
// returns its address.
func startBench(b *testing.B, h *Server) string {
	b.Helper()
	ls, err := loop.New(loop.Config{Addr: "127.0.0.1:0", Loops: 1}, h)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ls.Run(ctx) }()
	select {
	case <-ls.Ready():
	case err := <-done:
		b.Fatal(err)
	}
	b.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			b.Error("server did not stop")
		}
	})
	return ls.Addr()
}
