package bench

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/brink-edge/brink/connsig"
	"github.com/brink-edge/brink/loop"
)

// The event loop against fasthttp.Server and a static-response gnet
// server, over loopback, inside this process (client and server share the
// machine's cores). BRINK_BENCH_FULL=1 runs each load for 5 s (3 s for
// the connection rate) with 16 connections; otherwise 200 ms with 4, a
// smoke run. Each benchmark runs its load once whatever b.N is and
// reports req/s, p50 and p99 (µs) and ns/op (wall time per request).
//
//	BRINK_BENCH_FULL=1 go test -run '^$' -bench 'Loop' -benchtime=1x -count=3 ./bench/

const loopFlags = 200

func loopLoad() (conns int, dur time.Duration) {
	if loopFull() {
		return 16, 5 * time.Second
	}
	return 4, 200 * time.Millisecond
}

// loopCases are the two answers measured: a 200-flag frontend evaluation
// with a varying userId, and a client-features 304.
func loopCases(b *testing.B, addr string) []struct {
	name   string
	reqs   [][]byte
	status int
} {
	features := request("/api/client/features", clientToken, "")
	etag := loopETag(b, addr, features)
	return []struct {
		name   string
		reqs   [][]byte
		status int
	}{
		{"frontend", frontendRequests(), 200},
		{"features304", [][]byte{request("/api/client/features", clientToken, etag)}, 304},
	}
}

func loopETag(b *testing.B, addr string, req []byte) string {
	raw := string(loopAnswer(b, addr, req))
	for line := range strings.SplitSeq(raw, "\r\n") {
		if v, ok := strings.CutPrefix(line, "Etag: "); ok {
			return v
		}
		if v, ok := strings.CutPrefix(line, "ETag: "); ok {
			return v
		}
	}
	b.Fatalf("no ETag in %q", raw[:min(len(raw), 300)])
	return ""
}

// BenchmarkLoopServe compares requests/s and latency of the loop path
// (GOMAXPROCS loops, and 1 loop), of fasthttp.Server on the same handler,
// and of the ceiling (GOMAXPROCS loops, and 1 loop).
func BenchmarkLoopServe(b *testing.B) {
	h := loopAPI(b, loopFlags)
	loops := runtime.GOMAXPROCS(0)
	loopAddr := loopStartLoop(b, h.Handle, loop.Config{Loops: loops})
	loop1Addr := loopStartLoop(b, h.Handle, loop.Config{Loops: 1})
	fastAddr := loopStartFasthttp(b, h.Handle)
	conns, dur := loopLoad()
	for _, tc := range loopCases(b, loopAddr) {
		// The ceiling answers every request with the bytes the API gives
		// to the case's first request.
		answer := loopAnswer(b, loopAddr, tc.reqs[0])
		ceilAddr := loopStartCeiling(b, answer, loops)
		ceil1Addr := loopStartCeiling(b, answer, 1)
		for _, srv := range []struct{ name, addr string }{
			{"loop", loopAddr}, {"loop-1loop", loop1Addr}, {"fasthttp", fastAddr},
			{"ceiling", ceilAddr}, {"ceiling-1loop", ceil1Addr},
		} {
			b.Run(tc.name+"/"+srv.name, func(b *testing.B) {
				b.ReportAllocs()
				r := loopKeepAlive(b, srv.addr, conns, dur, tc.reqs, tc.status)
				loopReport(b, r)
			})
		}
	}
}

type loopNamedCapturer struct {
	name string
	c    connsig.Capturer
}

// BenchmarkLoopConnRate measures new connections per second (connect, one
// 304 request, close) on fasthttp.Server and on the loop with capture off,
// with a no-op Capturer, with a TCP_INFO Capturer, and with SO_REUSEPORT
// (each loop accepts its own connections: no hand-off from an acceptor).
func BenchmarkLoopConnRate(b *testing.B) {
	h := loopAPI(b, loopFlags)
	conns, dur := loopLoad()
	if loopFull() {
		dur = 3 * time.Second
	}
	servers := []struct{ name, addr string }{{"fasthttp", loopStartFasthttp(b, h.Handle)}}
	caps := append([]loopNamedCapturer{{"loop-capture-off", nil}, {"loop-capture-noop", loopNoopCapturer{}}}, loopExtraCapturers()...)
	for _, c := range caps {
		servers = append(servers, struct{ name, addr string }{c.name, loopStartLoop(b, h.Handle, loop.Config{Capturer: c.c})})
	}
	servers = append(servers, struct{ name, addr string }{"loop-reuseport-capture-off", loopStartLoop(b, h.Handle, loop.Config{ReusePort: true})})
	features := request("/api/client/features", clientToken, "")
	req := request("/api/client/features", clientToken, loopETag(b, servers[1].addr, features))
	for _, srv := range servers {
		b.Run(srv.name, func(b *testing.B) {
			b.ReportAllocs()
			r := loopNewConns(b, srv.addr, conns, dur, req, 304)
			loopReport(b, r)
		})
	}
}

// BenchmarkLoopScaling measures the 304 path with 1 and 2 loops in this
// process, and with 1 and 2 child processes of 1 loop each sharing the
// port with SO_REUSEPORT (the child is this test binary, re-run as
// TestLoopChildServer).
func BenchmarkLoopScaling(b *testing.B) {
	h := loopAPI(b, loopFlags)
	conns, dur := loopLoad()
	features := request("/api/client/features", clientToken, "")
	var etag string
	for _, loops := range []int{1, 2} {
		addr := loopStartLoop(b, h.Handle, loop.Config{Loops: loops})
		if etag == "" {
			etag = loopETag(b, addr, features)
		}
		req := [][]byte{request("/api/client/features", clientToken, etag)}
		b.Run("inprocess/loops="+strconv.Itoa(loops), func(b *testing.B) {
			loopReport(b, loopKeepAlive(b, addr, conns, dur, req, 304))
		})
	}
	req := [][]byte{request("/api/client/features", clientToken, etag)}
	for _, procs := range []int{1, 2} {
		b.Run("procs="+strconv.Itoa(procs)+"x1loop", func(b *testing.B) {
			addr := ""
			for range procs {
				addr = loopStartChild(b, addr)
			}
			loopReport(b, loopKeepAlive(b, addr, conns, dur, req, 304))
		})
	}
}

// loopStartChild starts this test binary as a server process with one
// loop and SO_REUSEPORT on addr (a new port when empty) and returns the
// address; the process is killed when the benchmark ends.
func loopStartChild(tb testing.TB, addr string) string {
	tb.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestLoopChildServer$", "-test.bench=^$")
	cmd.Env = append(os.Environ(), "BRINK_LOOP_CHILD="+addr, "GOMAXPROCS=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if a, ok := strings.CutPrefix(sc.Text(), "LISTENING "); ok {
			go func() {
				for sc.Scan() {
				}
			}()
			return a
		}
	}
	tb.Fatalf("child server did not start: %v", sc.Err())
	return ""
}

// TestLoopChildServer is the server process of BenchmarkLoopScaling; it
// runs only when BRINK_LOOP_CHILD names the address.
func TestLoopChildServer(t *testing.T) {
	addr := os.Getenv("BRINK_LOOP_CHILD")
	if addr == "" {
		t.Skip("runs only as BenchmarkLoopScaling's child process")
	}
	h := loopAPI(t, loopFlags)
	got := loopStartLoop(t, h.Handle, loop.Config{Addr: addr, Loops: 1, ReusePort: true})
	fmt.Println("LISTENING " + got)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt)
	select {
	case <-sig:
	case <-time.After(10 * time.Minute):
	}
}
