// Package bench holds brink's end-to-end benchmarks: the HTTP API served
// by a fasthttp.Server on a 127.0.0.1 listener inside the test process,
// loaded by a fasthttp client over loopback. Per-package benchmarks live
// beside their code; the peer comparison against the Node Unleash Proxy is
// bench/compare.sh.
//
//	go test -run '^$' -bench . -benchmem ./bench/
package bench

import (
	"bufio"
	"io"
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

// server is brink's API on a loopback listener.
type server struct {
	addr string
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
	return &server{addr: ln.Addr().String()}
}

// conn is a minimal keep-alive HTTP/1.1 client over one connection. It
// sends pre-built requests and reads answers into buffers it reuses, so
// that the benchmark's allocations are the server's, not a client's (the
// fasthttp client shares fasthttp's body pools with the server and
// reallocates large bodies once they are sized for small ones).
type conn struct {
	c    net.Conn
	br   *bufio.Reader
	hdr  fasthttp.ResponseHeader
	body []byte
}

func (s *server) dial(tb testing.TB) *conn {
	tb.Helper()
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return &conn{c: c, br: bufio.NewReaderSize(c, 64<<10)}
}

// request returns the bytes of GET uri with the token and, when etag is
// set, If-None-Match.
func request(uri, token, etag string) []byte {
	r := "GET " + uri + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: " + token + "\r\n"
	if etag != "" {
		r += "If-None-Match: " + etag + "\r\n"
	}
	return []byte(r + "\r\n")
}

// do sends req and fails unless the answer's status is want. It returns
// the body length; the body stays in c.body until the next call.
func (c *conn) do(tb testing.TB, req []byte, want int) int {
	if _, err := c.c.Write(req); err != nil {
		tb.Fatalf("writing request: %v", err)
	}
	c.hdr.Reset()
	if err := c.hdr.Read(c.br); err != nil {
		tb.Fatalf("reading answer header: %v", err)
	}
	n := c.hdr.ContentLength()
	if st := c.hdr.StatusCode(); st == fasthttp.StatusNotModified || st == fasthttp.StatusNoContent {
		n = 0 // no body, whatever the header says (RFC 9110 §15.4.5)
	}
	if n < 0 {
		tb.Fatalf("answer without Content-Length (%d)", n)
	}
	if cap(c.body) < n {
		c.body = make([]byte, n)
	}
	c.body = c.body[:n]
	if _, err := io.ReadFull(c.br, c.body); err != nil {
		tb.Fatalf("reading answer body: %v", err)
	}
	if st := c.hdr.StatusCode(); st != want {
		tb.Fatalf("status %d, want %d: %.200s", st, want, c.body)
	}
	return n
}

func frontendRequests() [][]byte {
	reqs := make([][]byte, nUsers)
	for i := range reqs {
		reqs[i] = request("/api/frontend?userId=user-"+strconv.Itoa(i)+"&sessionId="+strconv.Itoa(1000000+i), frontendToken, "")
	}
	return reqs
}

// BenchmarkFrontend asks /api/frontend for all flags of a 200-flag set
// with a new userId on every request: one connection in sequence (latency)
// and 4×GOMAXPROCS connections in parallel (throughput).
func BenchmarkFrontend(b *testing.B) {
	s := startServer(b, 200)
	reqs := frontendRequests()
	b.Run("flags=200/serial", func(b *testing.B) {
		c := s.dial(b)
		b.SetBytes(int64(c.do(b, reqs[0], fasthttp.StatusOK)))
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			Sink += c.do(b, reqs[i%nUsers], fasthttp.StatusOK)
			i++
		}
	})
	b.Run("flags=200/parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			c := s.dial(b)
			i := 0
			for pb.Next() {
				c.do(b, reqs[i%nUsers], fasthttp.StatusOK)
				i += 7 // connections start on the same user; stride apart
			}
		})
	})
}

// BenchmarkClientFeatures asks /api/client/features of a 200-flag set:
// the whole payload (200) and a revalidation with its ETag (304).
func BenchmarkClientFeatures(b *testing.B) {
	s := startServer(b, 200)
	c := s.dial(b)
	full := request("/api/client/features", clientToken, "")
	size := c.do(b, full, fasthttp.StatusOK)
	etag := string(c.hdr.Peek(fasthttp.HeaderETag))
	if etag == "" {
		b.Fatal("GET /api/client/features: no ETag")
	}
	revalidate := request("/api/client/features", clientToken, etag)
	b.Run("flags=200/status=200", func(b *testing.B) {
		b.SetBytes(int64(size))
		b.ReportAllocs()
		for b.Loop() {
			Sink += c.do(b, full, fasthttp.StatusOK)
		}
	})
	b.Run("flags=200/status=304", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			Sink += c.do(b, revalidate, fasthttp.StatusNotModified)
		}
	})
}
