package loop

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/brink-edge/brink/connsig"
)

// lineHandler echoes newline-terminated lines. "close" answers and closes,
// "detach" answers from a goroutine through WriteAsync, "drain?" answers
// whether the server drains, "ttl" answers the captured signal's TTL.
type lineHandler struct {
	opens, closes  atomic.Int64
	dataBeforeOpen atomic.Bool
	mu             sync.Mutex
	open           map[*Conn]bool
}

func (h *lineHandler) OnOpen(c *Conn) {
	h.opens.Add(1)
	h.mu.Lock()
	if h.open == nil {
		h.open = map[*Conn]bool{}
	}
	h.open[c] = true
	h.mu.Unlock()
}

func (h *lineHandler) OnClose(c *Conn) {
	h.closes.Add(1)
	h.mu.Lock()
	delete(h.open, c)
	h.mu.Unlock()
}

func (h *lineHandler) OnData(c *Conn, in []byte) (int, Action) {
	h.mu.Lock()
	if !h.open[c] {
		h.dataBeforeOpen.Store(true)
	}
	h.mu.Unlock()
	n := 0
	for {
		i := bytes.IndexByte(in[n:], '\n')
		if i < 0 {
			return n, Continue
		}
		line := string(in[n : n+i])
		n += i + 1
		switch line {
		case "close":
			_, _ = c.WriteString("bye\n")
			return n, Close
		case "detach":
			c.Detach()
			go func() {
				for range 3 {
					if err := c.WriteAsync([]byte("async\n")); err != nil {
						return
					}
				}
				c.Finish()
			}()
			return len(in), Continue
		case "ttl":
			_, _ = c.WriteString(strings.Repeat("t", int(c.Signal().TTL)) + "\n")
		default:
			if c.Draining() {
				_, _ = c.WriteString(line + " draining\n")
				return n, Close
			}
			_, _ = c.WriteString(line + "\n")
		}
	}
}

type testServer struct {
	*Server
	h      *lineHandler
	cancel context.CancelFunc
	done   chan error
}

func startTest(t *testing.T, cfg Config) *testServer {
	t.Helper()
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.Loops == 0 {
		cfg.Loops = 2
	}
	h := &lineHandler{}
	s, err := New(cfg, h)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ts := &testServer{Server: s, h: h, cancel: cancel, done: make(chan error, 1)}
	go func() { ts.done <- s.Run(ctx) }()
	select {
	case <-s.Ready():
	case err := <-ts.done:
		t.Fatalf("Run: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("server not ready after 5s")
	}
	t.Cleanup(func() { ts.stop(t) })
	return ts
}

func (ts *testServer) stop(t *testing.T) {
	t.Helper()
	ts.cancel()
	select {
	case err := <-ts.done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
		ts.done <- nil
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return 15s after cancel")
	}
}

type client struct {
	net.Conn
	r *bufio.Reader
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return &client{c, bufio.NewReader(c)}
}

func (c *client) send(t *testing.T, s string) {
	t.Helper()
	if _, err := io.WriteString(c, s); err != nil {
		t.Fatal(err)
	}
}

func (c *client) line(t *testing.T) string {
	t.Helper()
	s, err := c.r.ReadString('\n')
	if err != nil {
		t.Fatalf("reading a line: %v (got %q)", err, s)
	}
	return strings.TrimSuffix(s, "\n")
}

// eof waits for the server to close the connection.
func (c *client) eof(t *testing.T, within time.Duration) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(within))
	b, err := c.r.ReadByte()
	if err == nil {
		t.Fatalf("read %q, want the connection closed", b)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection still open after %v", within)
	}
}

func TestKeepAliveAndPartial(t *testing.T) {
	ts := startTest(t, Config{})
	c := dial(t, ts.Addr())
	for _, w := range []string{"one\n", "two\nthr", "ee\n", "f", "o", "u", "r\nfive\n"} {
		c.send(t, w)
		time.Sleep(5 * time.Millisecond)
	}
	for _, want := range []string{"one", "two", "three", "four", "five"} {
		if got := c.line(t); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	c.send(t, "close\n")
	if got := c.line(t); got != "bye" {
		t.Fatalf("got %q, want bye", got)
	}
	c.eof(t, 5*time.Second)
	if ts.h.dataBeforeOpen.Load() {
		t.Error("OnData ran before OnOpen")
	}
}

// fakeCapturer records the fds it was given and sets the TTL.
type fakeCapturer struct {
	mu  sync.Mutex
	fds []int
}

func (f *fakeCapturer) Capture(fd int, s *connsig.Signal) error {
	f.mu.Lock()
	f.fds = append(f.fds, fd)
	f.mu.Unlock()
	s.TTL = 7
	s.SYNSource = connsig.SourceFallback
	return nil
}

func TestCapturerOncePerConnBeforeData(t *testing.T) {
	fc := &fakeCapturer{}
	ts := startTest(t, Config{Capturer: fc})
	const n = 5
	for range n {
		c := dial(t, ts.Addr())
		c.send(t, "ttl\n")
		if got := c.line(t); got != "ttttttt" {
			t.Fatalf("signal TTL seen by OnData: %q, want 7 t's", got)
		}
		_ = c.Close()
	}
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if len(fc.fds) != n {
		t.Fatalf("Capture called %d times for %d connections", len(fc.fds), n)
	}
	for _, fd := range fc.fds {
		if fd <= 2 {
			t.Errorf("Capture got fd %d", fd)
		}
	}
}

// addrCapturer records the addresses CaptureAddr was given; Capture must
// not be called when CaptureAddr exists.
type addrCapturer struct {
	fakeCapturer
	local, remote []netip.AddrPort
}

func (a *addrCapturer) CaptureAddr(fd int, local, remote netip.AddrPort, s *connsig.Signal) error {
	a.mu.Lock()
	a.local, a.remote = append(a.local, local), append(a.remote, remote)
	a.mu.Unlock()
	s.TTL = 9
	return nil
}

func (a *addrCapturer) Capture(int, *connsig.Signal) error {
	return errors.New("Capture called although CaptureAddr exists")
}

func TestAddrCapturerGetsTheConnectionsAddresses(t *testing.T) {
	ac := &addrCapturer{}
	ts := startTest(t, Config{Capturer: ac})
	c := dial(t, ts.Addr())
	c.send(t, "ttl\n")
	if got := c.line(t); got != "ttttttttt" {
		t.Fatalf("signal TTL seen by OnData: %q, want 9 t's", got)
	}
	ac.mu.Lock()
	defer ac.mu.Unlock()
	if len(ac.remote) != 1 {
		t.Fatalf("CaptureAddr called %d times for one connection", len(ac.remote))
	}
	if want := c.LocalAddr().(*net.TCPAddr).AddrPort(); ac.remote[0] != want {
		t.Errorf("remote %v, want the client's address %v", ac.remote[0], want)
	}
	if want := c.RemoteAddr().(*net.TCPAddr).AddrPort().Port(); ac.local[0].Port() != want {
		t.Errorf("local %v, want port %d", ac.local[0], want)
	}
}

func TestMaxConns(t *testing.T) {
	ts := startTest(t, Config{MaxConns: 2})
	a, b := dial(t, ts.Addr()), dial(t, ts.Addr())
	for _, c := range []*client{a, b} {
		c.send(t, "hi\n")
		if got := c.line(t); got != "hi" {
			t.Fatalf("got %q", got)
		}
	}
	over := dial(t, ts.Addr())
	over.send(t, "hi\n")
	over.eof(t, 5*time.Second)
	_ = a.Close()
	deadline := time.Now().Add(5 * time.Second)
	for ts.Conns() > 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	d := dial(t, ts.Addr())
	d.send(t, "again\n")
	if got := d.line(t); got != "again" {
		t.Fatalf("after a close, got %q", got)
	}
}

func TestTimeouts(t *testing.T) {
	ts := startTest(t, Config{ReadHeaderTimeout: 150 * time.Millisecond, IdleTimeout: 300 * time.Millisecond})
	t.Run("slow client", func(t *testing.T) {
		c := dial(t, ts.Addr())
		start := time.Now()
		c.send(t, "never-ends")
		c.eof(t, 3*time.Second)
		// The sweep runs on a coarse clock that a loaded machine delays, so
		// only a close far earlier than the timeout is a fault.
		if d := time.Since(start); d < 50*time.Millisecond {
			t.Errorf("closed after %v, long before ReadHeaderTimeout", d)
		}
	})
	t.Run("silent client", func(t *testing.T) {
		c := dial(t, ts.Addr())
		c.eof(t, 3*time.Second)
	})
	t.Run("idle keep-alive", func(t *testing.T) {
		c := dial(t, ts.Addr())
		c.send(t, "x\n")
		_ = c.line(t)
		start := time.Now()
		c.eof(t, 3*time.Second)
		if d := time.Since(start); d < 100*time.Millisecond {
			t.Errorf("idle connection closed after %v, long before IdleTimeout", d)
		}
	})
	t.Run("trickle resets nothing", func(t *testing.T) {
		// A message trickled byte by byte still has ReadHeaderTimeout in all.
		c := dial(t, ts.Addr())
		start := time.Now()
		// 2 s of trickle: a loop that reset the timeout on every byte
		// would keep the client for all of it plus IdleTimeout.
		for range 100 {
			if _, err := io.WriteString(c, "a"); err != nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		c.eof(t, 3*time.Second)
		if d := time.Since(start); d > 1500*time.Millisecond {
			t.Errorf("trickling client kept for %v, the trickle's whole length", d)
		}
	})
}

func TestDetach(t *testing.T) {
	ts := startTest(t, Config{})
	c := dial(t, ts.Addr())
	c.send(t, "first\ndetach\nignored\n")
	for _, want := range []string{"first", "async", "async", "async"} {
		if got := c.line(t); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	c.eof(t, 5*time.Second)
}

func TestGracefulShutdown(t *testing.T) {
	var shutdownCalls atomic.Int64
	ts := startTest(t, Config{ShutdownGrace: 5 * time.Second, OnShutdown: func() { shutdownCalls.Add(1) }})
	idle := dial(t, ts.Addr())
	idle.send(t, "hello\n")
	_ = idle.line(t)
	busy := dial(t, ts.Addr())
	busy.send(t, "in-fli")
	time.Sleep(20 * time.Millisecond)
	start := time.Now()
	ts.cancel()
	idle.eof(t, 2*time.Second)
	// New connections are refused (the listener is closed) or closed at once.
	if nc, err := net.DialTimeout("tcp", ts.Addr(), time.Second); err == nil {
		_ = nc.SetDeadline(time.Now().Add(2 * time.Second))
		if n, err := nc.Read(make([]byte, 1)); err == nil {
			t.Errorf("new connection during drain read %d bytes", n)
		}
		_ = nc.Close()
	}
	busy.send(t, "ght\n")
	if got := busy.line(t); got != "in-flight draining" {
		t.Fatalf("in-flight request got %q", got)
	}
	busy.eof(t, 3*time.Second)
	select {
	case err := <-ts.done:
		if err != nil {
			t.Fatal(err)
		}
		ts.done <- nil
	case <-time.After(4 * time.Second):
		t.Fatal("Run did not return after the drain")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("drain took %v", d)
	}
	if n := shutdownCalls.Load(); n != 1 {
		t.Errorf("OnShutdown called %d times", n)
	}
}

func TestShutdownGraceBound(t *testing.T) {
	ts := startTest(t, Config{ShutdownGrace: 200 * time.Millisecond})
	c := dial(t, ts.Addr())
	c.send(t, "never-finished")
	time.Sleep(20 * time.Millisecond)
	start := time.Now()
	ts.cancel()
	c.eof(t, 5*time.Second)
	<-ts.done
	ts.done <- nil
	if d := time.Since(start); d < 150*time.Millisecond || d > 3*time.Second {
		t.Errorf("Run returned %v after cancel, want about the 200ms grace", d)
	}
}

func TestReusePortTwoServers(t *testing.T) {
	var prepared atomic.Int64
	prep := func(fd int) error {
		if fd < 0 {
			return errors.New("bad fd")
		}
		prepared.Add(1)
		return nil
	}
	a := startTest(t, Config{ReusePort: true, Loops: 2, PrepareListener: prep})
	b := startTest(t, Config{Addr: a.Addr(), ReusePort: true, Loops: 1, PrepareListener: prep})
	if got := prepared.Load(); got != 3 {
		t.Errorf("PrepareListener called %d times, want 3 (one per listener)", got)
	}
	for i := range 64 {
		c := dial(t, a.Addr())
		c.send(t, "x\n")
		if got := c.line(t); got != "x" {
			t.Fatalf("conn %d: %q", i, got)
		}
		_ = c.Close()
	}
	if a.h.opens.Load() == 0 || b.h.opens.Load() == 0 {
		t.Fatalf("connections per server: %d and %d, want both > 0", a.h.opens.Load(), b.h.opens.Load())
	}
	// Once a stops, its listeners leave the group and b takes everything.
	a.stop(t)
	for i := range 32 {
		c := dial(t, b.Addr())
		c.send(t, "y\n")
		if got := c.line(t); got != "y" {
			t.Fatalf("after a stopped, conn %d: %q", i, got)
		}
		_ = c.Close()
	}
}

func TestAddrInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s, err := New(Config{Addr: ln.Addr().String(), Loops: 1}, &lineHandler{})
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- s.Run(context.Background()) }()
	select {
	case err := <-errc:
		if err == nil {
			t.Fatal("Run on a busy port returned nil")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run on a busy port did not fail")
	}
}

// TestRestartWithTimeWait: a new server binds the port of a stopped one
// whose closed connections sit in TIME_WAIT (the server closed first), as a
// restarted brink must. Without SO_REUSEADDR this failed with EADDRINUSE.
func TestRestartWithTimeWait(t *testing.T) {
	ts := startTest(t, Config{Loops: 1})
	addr := ts.Addr()
	for range 3 {
		c := dial(t, addr)
		c.send(t, "close\n")
		if got := c.line(t); got != "bye" {
			t.Fatalf("got %q, want bye", got)
		}
		c.eof(t, 5*time.Second)
	}
	ts.stop(t)
	again := startTest(t, Config{Addr: addr, Loops: 1})
	c := dial(t, again.Addr())
	c.send(t, "close\n")
	if got := c.line(t); got != "bye" {
		t.Fatalf("after restart got %q, want bye", got)
	}
}
