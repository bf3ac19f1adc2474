// Package bench holds brink's end-to-end benchmarks: the HTTP API served
// by a fasthttp.Server on a 127.0.0.1 listener inside the test process,
// loaded by a fasthttp client over loopback. Per-package benchmarks live
// beside their code; the peer comparison against the Node Unleash Proxy is
// bench/compare.sh.
//
//	go test -run '^$' -bench . -benchmem ./bench/
package bench

import (
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/brink-edge/brink/flags"
	"github.com/brink-edge/brink/flags/api"
)

const (
	clientToken   = "*:development.abc123"
	frontendToken = "*:development.fe123"
	nUsers        = 4096 // distinct userIds the frontend benchmarks rotate through
)

// Sink keeps benchmark results alive.
var Sink int

// server is brink's API on a loopback listener with a client for it.
type server struct {
	client *fasthttp.HostClient
}

// startServer serves flags.GenerateDataset(n, 1) until the benchmark ends.
func startServer(tb testing.TB, n int) *server {
	tb.Helper()
	store := new(flags.Store)
	cf := flags.GenerateDataset(n, 1)
	if len(cf.Features) != n {
		tb.Fatalf("GenerateDataset(%d, 1) has %d features", n, len(cf.Features))
	}
	store.Publish("", flags.Compile(cf), "bench")
	h, err := api.New(api.Config{
		Store:  store,
		Tokens: flags.OfflineTokens([]string{clientToken}, []string{frontendToken}),
	})
	if err != nil {
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: h.Handle, NoDefaultServerHeader: true, ReadTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	tb.Cleanup(func() {
		_ = srv.Shutdown()
		<-done
	})
	return &server{client: &fasthttp.HostClient{
		Addr:         ln.Addr().String(),
		MaxConns:     512,
		ReadTimeout:  10 * time.Second,
		WriteTimeout: 10 * time.Second,
	}}
}

// do sends GET uri with the token (and If-None-Match when etag is set)
// and fails unless the status is want. It returns the body length.
func (s *server) do(tb testing.TB, req *fasthttp.Request, resp *fasthttp.Response, uri, token, etag string, want int) int {
	req.Reset()
	req.SetRequestURI(uri)
	req.Header.SetHost("127.0.0.1")
	req.Header.Set(fasthttp.HeaderAuthorization, token)
	if etag != "" {
		req.Header.Set(fasthttp.HeaderIfNoneMatch, etag)
	}
	if err := s.client.Do(req, resp); err != nil {
		tb.Fatalf("GET %s: %v", uri, err)
	}
	if resp.StatusCode() != want {
		tb.Fatalf("GET %s: status %d, want %d: %.200s", uri, resp.StatusCode(), want, resp.Body())
	}
	return len(resp.Body())
}

func frontendURIs() []string {
	uris := make([]string, nUsers)
	for i := range uris {
		uris[i] = "/api/frontend?userId=user-" + strconv.Itoa(i) + "&sessionId=" + strconv.Itoa(1000000+i)
	}
	return uris
}

// BenchmarkFrontend asks /api/frontend for all flags of a 200-flag set
// with a new userId on every request: one connection in sequence (latency)
// and GOMAXPROCS×4 goroutines in parallel (throughput).
func BenchmarkFrontend(b *testing.B) {
	s := startServer(b, 200)
	uris := frontendURIs()
	b.Run("flags=200/serial", func(b *testing.B) {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		b.SetBytes(int64(s.do(b, req, resp, uris[0], frontendToken, "", fasthttp.StatusOK)))
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			Sink += s.do(b, req, resp, uris[i%nUsers], frontendToken, "", fasthttp.StatusOK)
			i++
		}
	})
	b.Run("flags=200/parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			n, i := 0, 0
			for pb.Next() {
				n += s.do(b, req, resp, uris[i%nUsers], frontendToken, "", fasthttp.StatusOK)
				i += 7 // goroutines start on the same user; stride apart
			}
			_ = n
		})
	})
}

// BenchmarkClientFeatures asks /api/client/features of a 200-flag set:
// the whole payload (200) and a revalidation with its ETag (304).
func BenchmarkClientFeatures(b *testing.B) {
	s := startServer(b, 200)
	const uri = "/api/client/features"
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	size := s.do(b, req, resp, uri, clientToken, "", fasthttp.StatusOK)
	etag := string(resp.Header.Peek(fasthttp.HeaderETag))
	if etag == "" {
		b.Fatalf("GET %s: no ETag", uri)
	}
	b.Run("flags=200/status=200", func(b *testing.B) {
		b.SetBytes(int64(size))
		b.ReportAllocs()
		for b.Loop() {
			Sink += s.do(b, req, resp, uri, clientToken, "", fasthttp.StatusOK)
		}
	})
	b.Run("flags=200/status=304", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			Sink += s.do(b, req, resp, uri, clientToken, etag, fasthttp.StatusNotModified)
		}
	})
}
