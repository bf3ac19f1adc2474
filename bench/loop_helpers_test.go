package bench

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"
	"github.com/valyala/fasthttp"

	"github.com/brink-edge/brink/connsig"
	"github.com/brink-edge/brink/flags"
	"github.com/brink-edge/brink/flags/api"
	"github.com/brink-edge/brink/loop"
	"github.com/brink-edge/brink/proto/http1"
)

// loopFull reports whether BRINK_BENCH_FULL=1 asks for the real
// fixed-duration loads; otherwise the loads are tiny (smoke runs).
func loopFull() bool { return os.Getenv("BRINK_BENCH_FULL") == "1" }

// loopAPI is the flag API over flags.GenerateDataset(n, 1).
func loopAPI(tb testing.TB, n int) *api.Handler {
	tb.Helper()
	store := new(flags.Store)
	store.Publish("", flags.Compile(flags.GenerateDataset(n, 1)), "bench")
	h, err := api.New(api.Config{
		Store:  store,
		Tokens: flags.OfflineTokens([]string{clientToken}, []string{frontendToken}),
	})
	if err != nil {
		tb.Fatal(err)
	}
	return h
}

// loopStartLoop serves h on the event loop with loops loops.
func loopStartLoop(tb testing.TB, h fasthttp.RequestHandler, cfg loop.Config) string {
	tb.Helper()
	hs, err := http1.New(http1.Config{Handler: h})
	if err != nil {
		tb.Fatal(err)
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	s, err := loop.New(cfg, hs)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	select {
	case <-s.Ready():
	case err := <-done:
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Error(err)
		}
	})
	return s.Addr()
}

// loopStartFasthttp serves h with a fasthttp.Server configured as
// cmd/brink's.
func loopStartFasthttp(tb testing.TB, h fasthttp.RequestHandler) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := &fasthttp.Server{
		Handler:               h,
		Name:                  "brink",
		NoDefaultServerHeader: true,
		ReadTimeout:           15 * time.Second,
		IdleTimeout:           90 * time.Second,
		MaxRequestBodySize:    4 << 20,
		ReadBufferSize:        8 << 10,
		CloseOnShutdown:       true,
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	tb.Cleanup(func() {
		_ = srv.Shutdown()
		<-done
	})
	return ln.Addr().String()
}

// loopCeiling is a gnet server that answers every request (anything
// ending in an empty line) with fixed bytes: no parsing, no handler. It is
// the ceiling the loop path is measured against.
type loopCeiling struct {
	gnet.BuiltinEventEngine
	resp []byte
	eng  gnet.Engine
	up   chan struct{}
}

func (s *loopCeiling) OnBoot(e gnet.Engine) gnet.Action { s.eng = e; close(s.up); return gnet.None }

func (s *loopCeiling) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	c.SetContext(new([]byte))
	return nil, gnet.None
}

func (s *loopCeiling) OnTraffic(c gnet.Conn) gnet.Action {
	in, _ := c.Peek(-1)
	outp := c.Context().(*[]byte)
	out := (*outp)[:0]
	n := 0
	for {
		i := bytes.Index(in[n:], []byte("\r\n\r\n"))
		if i < 0 {
			break
		}
		n += i + 4
		out = append(out, s.resp...)
	}
	if n > 0 {
		_, _ = c.Discard(n)
		_, _ = c.Write(out)
	}
	*outp = out
	return gnet.None
}

func loopStartCeiling(tb testing.TB, resp []byte, loops int) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	s := &loopCeiling{resp: resp, up: make(chan struct{})}
	done := make(chan error, 1)
	go func() {
		done <- gnet.Run(s, "tcp://"+addr, gnet.WithNumEventLoop(loops), gnet.WithTCPNoDelay(gnet.TCPNoDelay))
	}()
	select {
	case <-s.up:
	case err := <-done:
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.eng.Stop(ctx)
		<-done
	})
	return addr
}

// loopAnswer returns the complete answer (status line to body) a server
// gives to req.
func loopAnswer(tb testing.TB, addr string, req []byte) []byte {
	tb.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(req); err != nil {
		tb.Fatal(err)
	}
	br := bufio.NewReader(c)
	var raw bytes.Buffer
	status, n, err := loopReadHead(br, &raw)
	if err != nil || status == 0 {
		tb.Fatalf("reading an answer: %d %v", status, err)
	}
	body := make([]byte, n)
	if _, err := ioReadFull(br, body); err != nil {
		tb.Fatal(err)
	}
	raw.Write(body)
	return raw.Bytes()
}

// loopReadHead reads a response's status line and headers, copying them
// to raw when it is not nil, and returns the status and Content-Length.
func loopReadHead(br *bufio.Reader, raw *bytes.Buffer) (status, length int, err error) {
	for first := true; ; first = false {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return 0, 0, err
		}
		if raw != nil {
			raw.Write(line)
		}
		if first {
			if len(line) >= 12 {
				status, _ = strconv.Atoi(string(line[9:12]))
			}
			continue
		}
		if len(line) <= 2 {
			return status, length, nil
		}
		if len(line) > 16 && (line[0] == 'C' || line[0] == 'c') && bytes.EqualFold(line[:15], []byte("Content-Length:")) {
			length = loopAtoi(bytes.TrimSpace(line[15:]))
		}
	}
}

func loopAtoi(b []byte) int {
	n := 0
	for _, c := range b {
		n = n*10 + int(c-'0')
	}
	return n
}

func ioReadFull(br *bufio.Reader, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := br.Read(p[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// loopHist is a latency histogram with 1 µs buckets up to 65 ms.
type loopHist [1 << 16]uint32

func (h *loopHist) record(d time.Duration) {
	us := d.Microseconds()
	h[min(us, int64(len(h)-1))]++
}

func (h *loopHist) quantile(q float64) time.Duration {
	var total uint64
	for _, n := range h {
		total += uint64(n)
	}
	want := uint64(q * float64(total))
	var seen uint64
	for i, n := range h {
		seen += uint64(n)
		if seen > want {
			return time.Duration(i) * time.Microsecond
		}
	}
	return time.Duration(len(h)) * time.Microsecond
}

// loopResult is what a load run measured.
type loopResult struct {
	requests int
	elapsed  time.Duration
	p50, p99 time.Duration
	errors   int
}

func (r loopResult) rps() float64 { return float64(r.requests) / r.elapsed.Seconds() }

// loopKeepAlive runs conns keep-alive connections against addr for dur,
// each sending the next of reqs and waiting for the answer (closed loop),
// and checks every status is want.
func loopKeepAlive(tb testing.TB, addr string, conns int, dur time.Duration, reqs [][]byte, want int) loopResult {
	tb.Helper()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		total loopHist
		res   loopResult
	)
	start := time.Now()
	deadline := start.Add(dur)
	for w := range conns {
		wg.Go(func() {
			h := new(loopHist)
			n, errs := 0, 0
			defer func() {
				mu.Lock()
				for i, v := range h {
					total[i] += v
				}
				res.requests += n
				res.errors += errs
				mu.Unlock()
			}()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				errs++
				return
			}
			defer c.Close()
			br := bufio.NewReaderSize(c, 64<<10)
			for i := w; time.Now().Before(deadline); i += conns {
				t0 := time.Now()
				if _, err := c.Write(reqs[i%len(reqs)]); err != nil {
					errs++
					return
				}
				status, length, err := loopReadHead(br, nil)
				if err == nil {
					_, err = br.Discard(length)
				}
				if err != nil || status != want {
					errs++
					return
				}
				h.record(time.Since(t0))
				n++
			}
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	res.p50, res.p99 = total.quantile(0.50), total.quantile(0.99)
	if res.errors > 0 || res.requests == 0 {
		tb.Fatalf("%d requests, %d errors", res.requests, res.errors)
	}
	return res
}

// loopNewConns runs conns workers against addr for dur, each connecting,
// sending req, reading the answer and closing, over and over.
func loopNewConns(tb testing.TB, addr string, conns int, dur time.Duration, req []byte, want int) loopResult {
	tb.Helper()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		total loopHist
		res   loopResult
	)
	start := time.Now()
	deadline := start.Add(dur)
	for range conns {
		wg.Go(func() {
			h := new(loopHist)
			n, errs := 0, 0
			defer func() {
				mu.Lock()
				for i, v := range h {
					total[i] += v
				}
				res.requests += n
				res.errors += errs
				mu.Unlock()
			}()
			br := bufio.NewReaderSize(nil, 16<<10)
			for time.Now().Before(deadline) {
				t0 := time.Now()
				c, err := net.Dial("tcp", addr)
				if err != nil {
					errs++
					continue
				}
				br.Reset(c)
				_, err = c.Write(req)
				var status, length int
				if err == nil {
					status, length, err = loopReadHead(br, nil)
				}
				if err == nil {
					_, err = br.Discard(length)
				}
				_ = c.Close()
				if err != nil || status != want {
					errs++
					continue
				}
				h.record(time.Since(t0))
				n++
			}
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	res.p50, res.p99 = total.quantile(0.50), total.quantile(0.99)
	if res.errors > res.requests/100 || res.requests == 0 {
		tb.Fatalf("%d connections served, %d errors", res.requests, res.errors)
	}
	return res
}

func loopReport(b *testing.B, r loopResult) {
	b.ReportMetric(r.rps(), "req/s")
	b.ReportMetric(float64(r.p50.Microseconds()), "p50-µs")
	b.ReportMetric(float64(r.p99.Microseconds()), "p99-µs")
	b.ReportMetric(float64(r.elapsed.Nanoseconds())/float64(r.requests), "ns/op")
}

// loopNoopCapturer captures nothing, at the cost of an interface call.
type loopNoopCapturer struct{}

func (loopNoopCapturer) Capture(int, *connsig.Signal) error { return nil }
