package tlsterm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/brink-edge/brink/connsig"
	"github.com/brink-edge/brink/proto/tlshello"
)

// Accept modes of a TLS listener: the event loop (package loop, the Server
// as its Handler) or Go's netpoller (an Acceptor). The package doc
// compares them.
const (
	AcceptLoop    = "loop"
	AcceptNetpoll = "netpoll"
)

// AcceptConfig configures an Acceptor. The zero value of every field means
// its documented default.
type AcceptConfig struct {
	// Addr is the TCP address to listen on, host:port; port 0 picks a free
	// port (Acceptor.Addr tells which). Required.
	Addr string
	// ReadHeaderTimeout bounds the wait for a complete ClientHello, from
	// accept. Zero means 10 s.
	ReadHeaderTimeout time.Duration
	// MaxConns bounds the open connections, from accept to close (the
	// Server's Config.MaxConns bounds those past their ClientHello); one
	// more is accepted and closed at once, counted in
	// brink_tls_accept_rejects_total{reason="max_connections"}. Zero means
	// no limit.
	MaxConns int
	// Capturer, when set, fills each connection's TCP signal right after
	// accept (by address when it is a connsig.AddrCapturer). Errors are
	// counted in brink_tls_capture_errors_total and leave the signal as
	// captured so far.
	Capturer connsig.Capturer
	// PrepareListener, when set, is called with the listening socket
	// before it accepts (PrepareListener's keepalive, the capturer's
	// TCP_SAVE_SYN). An error fails NewAcceptor.
	PrepareListener func(fd int) error
	// ReusePort sets SO_REUSEPORT on the listening socket, so that other
	// processes listening with it share the port (several brinks); one
	// Acceptor listens once, Go's netpoller spreads the work over cores.
	ReusePort bool
	// OnShutdown, when set, is called once when Run starts draining (to
	// end long-lived answers), as loop.Config.OnShutdown.
	OnShutdown func()
}

// DefaultReadHeaderTimeout bounds the wait for a ClientHello when
// AcceptConfig.ReadHeaderTimeout is zero.
const DefaultReadHeaderTimeout = 10 * time.Second

// Acceptor is the netpoll accept mode: it accepts with a net.Listener and
// takes every connection, on one reused goroutine, from the TCP signal
// through the ClientHello, the routing decision and the handshake to the
// end of its Service (or passthrough), making the same decisions, with the
// same limits, metrics and signal, as the Server does on the loop.
type Acceptor struct {
	srv *Server
	cfg AcceptConfig
	ln  *net.TCPListener

	open     atomic.Int64 // connections from accept to close
	draining atomic.Bool

	mu     sync.Mutex
	hellos map[*net.TCPConn]struct{} // connections reading their ClientHello
	wg     sync.WaitGroup            // goroutines before their ClientHello's verdict
}

// helloBufs holds the buffers ClientHellos are read into: MaxHelloBytes
// and one byte more, to tell a hello over the bound.
var helloBufs = sync.Pool{New: func() any { return new([MaxHelloBytes + 1]byte) }}

// NewAcceptor listens on cfg.Addr for s (multipath TCP off: it refuses
// TCP_SAVE_SYN; Go's per-connection keepalive off: PrepareListener's,
// inherited from the listener, or else the Server's per-connection
// setting, applies) and prepares the listening socket. Run accepts.
func NewAcceptor(s *Server, cfg AcceptConfig) (*Acceptor, error) {
	if cfg.ReadHeaderTimeout <= 0 {
		cfg.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	lc := net.ListenConfig{KeepAlive: -1}
	lc.SetMultipathTCP(false)
	if cfg.ReusePort {
		lc.Control = func(_, _ string, rc syscall.RawConn) error {
			var serr error
			if err := rc.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, unix.SO_REUSEPORT, 1)
			}); err != nil {
				return err
			}
			return os.NewSyscallError("setsockopt", serr)
		}
	}
	ln, err := lc.Listen(context.Background(), "tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("tlsterm: listening on %s: %w", cfg.Addr, err)
	}
	tl := ln.(*net.TCPListener)
	if p := cfg.PrepareListener; p != nil {
		var perr error
		err := control(tl, func(fd int) { perr = p(fd) })
		if err = errors.Join(err, perr); err != nil {
			_ = ln.Close()
			return nil, fmt.Errorf("tlsterm: preparing the listener on %s: %w", cfg.Addr, err)
		}
	}
	a := &Acceptor{srv: s, cfg: cfg, ln: tl, hellos: map[*net.TCPConn]struct{}{}}
	s.maxPending.Store(int64(cap(s.slots) + s.cfg.HandshakeQueue))
	return a, nil
}

// Addr returns the address the Acceptor listens on.
func (a *Acceptor) Addr() string { return a.ln.Addr().String() }

// Close closes the listener of an Acceptor whose Run was never called.
func (a *Acceptor) Close() error { return a.ln.Close() }

// Run accepts until ctx is done, then stops listening, calls OnShutdown,
// closes the connections still sending their ClientHello and returns once
// every connection accepted is either closed or past its ClientHello
// (tracked by the Server: call Server.Shutdown next, as after the loop's
// Run).
func (a *Acceptor) Run(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() {
		a.draining.Store(true)
		_ = a.ln.Close()
	})
	defer stop()
	log := a.srv.cfg.Logger
	log.Info("tls: listening", "addr", a.Addr(), "accept", AcceptNetpoll)
	var err error
	for delay := time.Duration(0); ; {
		c, aerr := a.ln.AcceptTCP()
		if aerr != nil {
			if a.draining.Load() {
				break
			}
			if !temporary(aerr) {
				err = fmt.Errorf("tlsterm: accepting on %s: %w", a.Addr(), aerr)
				break
			}
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			log.Warn("tls: accept failed; retrying", "err", aerr, "delay", delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		if n := a.open.Add(1); a.cfg.MaxConns > 0 && n > int64(a.cfg.MaxConns) {
			a.open.Add(-1)
			acceptRejectMaxConns.Inc()
			_ = c.Close()
			continue
		}
		accepted.Inc()
		a.wg.Add(1)
		a.srv.pool.run(serveJob{a: a, nc: c})
	}
	a.draining.Store(true)
	_ = a.ln.Close()
	log.Info("tls: draining", "addr", a.Addr(), "connections", a.open.Load())
	if a.cfg.OnShutdown != nil {
		a.cfg.OnShutdown()
	}
	a.mu.Lock()
	for c := range a.hellos {
		_ = c.SetReadDeadline(time.Now()) // ends its read: a hello now would be refused anyway
	}
	a.mu.Unlock()
	a.wg.Wait()
	return err
}

// temporary reports accept errors worth retrying: out of descriptors or
// memory, as net/http's Serve retries.
func temporary(err error) bool {
	var ne net.Error
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) || errors.Is(err, syscall.ENOBUFS) ||
		errors.Is(err, syscall.ENOMEM) || errors.Is(err, syscall.ECONNABORTED) || (errors.As(err, &ne) && ne.Timeout())
}

// serveConn takes c through its life on the calling (pooled) goroutine.
func (a *Acceptor) serveConn(c *net.TCPConn) {
	defer a.open.Add(-1)
	s := a.srv
	tc := &Conn{srv: s, laddr: c.LocalAddr(), raddr: c.RemoteAddr()}
	tc.sig.Reset()
	a.capture(c, &tc.sig)
	_ = c.SetReadDeadline(time.Now().Add(a.cfg.ReadHeaderTimeout))

	buf := helloBufs.Get().(*[MaxHelloBytes + 1]byte)
	h := s.hellos.Get().(*tlshello.Hello)
	v, n := a.readHello(c, h, buf[:])
	if v.tg != nil {
		tc.tg = v.tg
		tc.replay = append([]byte(nil), buf[:n]...)
		tc.enq = time.Now()
		s.admit(tc, h)
	}
	s.hellos.Put(h)
	helloBufs.Put(buf)
	a.wg.Done() // past the verdict: tracked by the Server, or refused
	if v.tg == nil {
		refuse(c, v)
		return
	}
	tc.setRaw(c)
	s.keepAlive(c)
	if v.tg.passthrough != "" {
		_ = c.SetReadDeadline(time.Time{}) // the hello's; a relay lasts until either side closes
		s.relay(tc, c)
		return
	}
	if svc := s.handshakeHere(tc, c); svc != nil {
		s.serve(svc, tc)
	}
}

// readHello reads c until decide gives a verdict into buf, and returns
// it with the bytes read. A read that fails (the read-header timeout, the
// client closing, the drain) gives a verdict to close.
func (a *Acceptor) readHello(c *net.TCPConn, h *tlshello.Hello, buf []byte) (verdict, int) {
	a.mu.Lock()
	if a.draining.Load() {
		a.mu.Unlock()
		return verdict{close: true}, 0
	}
	a.hellos[c] = struct{}{}
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		delete(a.hellos, c)
		a.mu.Unlock()
	}()
	n := 0
	for {
		m, err := c.Read(buf[n:])
		n += m
		if m > 0 {
			if v := a.srv.decide(h, buf[:n], c); v != (verdict{}) {
				return v, n
			}
		}
		if err != nil {
			return verdict{close: true}, n
		}
	}
}

// refuse answers a refused connection as OnData's caller, the loop, does:
// the alert or plain-HTTP answer, then a close that lets it arrive.
func refuse(c *net.TCPConn, v verdict) {
	_ = c.SetWriteDeadline(time.Now().Add(lingerTime))
	switch {
	case v.http:
		_, _ = io.WriteString(c, plainHTTPAnswer)
	case v.alert != 0:
		rec := alertRecord(v.alert)
		_, _ = c.Write(rec[:])
	default:
		_ = c.Close()
		return
	}
	// Unread bytes (a request body) would turn the close into a reset that
	// can destroy the answer: send FIN, read what is left for a moment.
	_ = c.CloseWrite()
	_ = c.SetReadDeadline(time.Now().Add(lingerTime))
	_, _ = io.CopyN(io.Discard, c, 64<<10)
	_ = c.Close()
}

// lingerTime bounds how long a refused connection is read after the
// answer, for the client to take it and close.
const lingerTime = 2 * time.Second

// handshakeHere runs tc's handshake on the calling goroutine within the
// handshake bound: at most Config.MaxHandshakes at once, the next
// HandshakeQueue waiting for a slot (decide refused the rest), all within
// HandshakeTimeout from the ClientHello. It returns the Service to serve
// tc with, or nil when tc is closed and untracked.
func (s *Server) handshakeHere(tc *Conn, nc net.Conn) Service {
	defer s.pending.Add(-1)
	if !s.acquire(tc) || s.stopped.Load() {
		failQueue.Inc()
		_ = nc.Close()
		s.untrack(tc)
		return nil
	}
	defer func() { <-s.slots }()
	return s.terminate(tc, nc)
}

// acquire takes a handshake slot, waiting until tc's handshake deadline
// or Shutdown's end at most.
func (s *Server) acquire(tc *Conn) bool {
	select {
	case s.slots <- struct{}{}:
		return true
	default:
	}
	t := time.NewTimer(time.Until(tc.enq.Add(s.cfg.HandshakeTimeout)))
	defer t.Stop()
	select {
	case s.slots <- struct{}{}:
		return true
	case <-t.C:
	case <-s.quit:
	}
	return false
}

// capture fills sig from c's socket with the configured Capturer.
func (a *Acceptor) capture(c *net.TCPConn, sig *connsig.Signal) {
	cp := a.cfg.Capturer
	if cp == nil {
		return
	}
	var cerr error
	err := control(c, func(fd int) { cerr = connsig.CaptureConn(cp, fd, c.LocalAddr(), c.RemoteAddr(), sig) })
	if err != nil || cerr != nil {
		captureErrors.Inc()
		if a.srv.cfg.Logger.Enabled(context.Background(), slog.LevelDebug) {
			a.srv.cfg.Logger.Debug("tls: capturing the connection signal failed", "remote", c.RemoteAddr().String(), "err", errors.Join(err, cerr))
		}
	}
}
