package tlsterm

import (
	"context"
	"crypto/tls"
	"fmt"
	"maps"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/brink-edge/brink/loop"
	"github.com/brink-edge/brink/proto/tlshello"
)

// Service serves terminated connections of a route. ServeConn runs on a
// goroutine of its own and owns c until it returns; the Server closes c
// then. c is a *Conn.
type Service interface {
	ServeConn(c net.Conn) error
}

// Protocols is implemented by a Service that speaks ALPN protocols: the
// handshake offers them (a client offering none of them gets a
// no_application_protocol alert). A Service without it negotiates no
// ALPN.
type Protocols interface {
	Protocols() []string
}

// service is a registered Service with the tls.Config of its routes.
type service struct {
	svc  Service
	conf *tls.Config
}

// Server terminates TLS behind a loop.Server: it is the loop's Handler.
// Create it with New, hand it to loop.New, and call Shutdown after the
// loop's Run returned (or while it drains).
type Server struct {
	cfg   Config
	certs *CertStore
	table *table

	services atomic.Pointer[map[string]*service]
	svcMu    sync.Mutex

	jobs    chan *Conn    // loop mode: handshakes for the workers
	slots   chan struct{} // netpoll mode: one per handshake running
	pending atomic.Int64  // handshakes queued or running
	// maxPending bounds pending: MaxHandshakes+HandshakeQueue of the
	// accept mode in use (cap(jobs), or cap(slots)+HandshakeQueue).
	maxPending atomic.Int64
	quit       chan struct{}
	workers    sync.WaitGroup

	mu    sync.Mutex
	conns map[*Conn]struct{}
	open  atomic.Int64

	draining atomic.Bool
	stopped  atomic.Bool // the grace ran out: queued handshakes are dropped
	hellos   sync.Pool   // *tlshello.Hello
	pool     servePool   // goroutines running Services

	keepAliveMode atomic.Int32 // keepAliveUnknown, keepAliveInherited or keepAlivePerConn
}

var _ loop.Handler = (*Server)(nil)

// New checks cfg, loads its certificates and starts the handshake
// workers.
func New(cfg Config) (*Server, error) {
	slots := cfg.MaxHandshakes
	if slots <= 0 {
		slots = netpollHandshakesPerCPU * runtime.GOMAXPROCS(0)
	}
	cfg = cfg.withDefaults()
	certs, err := NewCertStore(cfg.Certs, cfg.Logger)
	if err != nil {
		return nil, err
	}
	t, err := buildTable(&cfg)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:   cfg,
		certs: certs,
		table: t,
		jobs:  make(chan *Conn, cfg.MaxHandshakes+cfg.HandshakeQueue),
		slots: make(chan struct{}, slots),
		quit:  make(chan struct{}),
		conns: map[*Conn]struct{}{},
	}
	s.maxPending.Store(int64(cap(s.jobs)))
	s.pool.quit = s.quit
	s.hellos.New = func() any { return new(tlshello.Hello) }
	s.services.Store(&map[string]*service{})
	for name, svc := range cfg.Services {
		if svc == nil {
			return nil, fmt.Errorf("tlsterm: service %q is nil", name)
		}
		s.SetService(name, svc)
	}
	if _, ok := cfg.Services[ServiceTunnel]; !ok && cfg.EngineHost != "" {
		s.SetService(ServiceTunnel, tunnelUnavailable())
	}
	svcs := *s.services.Load()
	for _, tg := range t.targets() {
		if tg.service != "" && svcs[tg.service] == nil {
			return nil, fmt.Errorf("tlsterm: route %s names service %q, which is not registered", tg.label, tg.service)
		}
	}
	for range cfg.MaxHandshakes {
		s.workers.Go(s.worker)
	}
	return s, nil
}

// Certs returns the certificate store.
func (s *Server) Certs() *CertStore { return s.certs }

// SetService registers svc under name, replacing a service of that name
// for connections handshaking from now on (registering the tunnel engine
// as "tunnel" ends the 503 answers). Safe from any goroutine.
func (s *Server) SetService(name string, svc Service) {
	conf := &tls.Config{
		GetCertificate: s.certs.GetCertificate,
		MinVersion:     s.cfg.MinVersion,
	}
	if p, ok := svc.(Protocols); ok {
		conf.NextProtos = append([]string(nil), p.Protocols()...)
	}
	s.svcMu.Lock()
	defer s.svcMu.Unlock()
	next := maps.Clone(*s.services.Load())
	next[name] = &service{svc: svc, conf: conf}
	s.services.Store(&next)
}

// Open returns the number of connections handed off and still open.
func (s *Server) Open() int { return int(s.open.Load()) }

// OnOpen is part of loop.Handler; the ClientHello is awaited in OnData.
func (s *Server) OnOpen(*loop.Conn) {}

// OnClose is part of loop.Handler.
func (s *Server) OnClose(*loop.Conn) {}

// OnData peeks the ClientHello, routes it and hands the socket off. It
// consumes nothing until the hello is complete, so the loop keeps the
// bytes and bounds the wait with its read-header timeout.
func (s *Server) OnData(c *loop.Conn, in []byte) (int, loop.Action) {
	h := s.hellos.Get().(*tlshello.Hello)
	defer s.hellos.Put(h)
	v := s.decide(h, in, c)
	switch {
	case v.http:
		_, _ = c.WriteString(plainHTTPAnswer)
		return 0, loop.Close
	case v.alert != 0:
		return s.alert(c, v.alert)
	case v.close:
		return 0, loop.Close
	case v.tg == nil:
		return 0, loop.Continue
	}
	tg := v.tg
	terminate := tg.passthrough == ""
	f, err := c.Handoff()
	if err != nil {
		if terminate {
			s.pending.Add(-1)
		}
		rejectHandoff.Inc()
		s.cfg.Logger.Warn("tls: cannot take the connection off the loop", "err", err)
		return 0, loop.Close
	}
	tc := &Conn{srv: s, tg: tg, file: f, laddr: c.LocalAddr(), raddr: c.RemoteAddr(), replay: append([]byte(nil), in...), enq: time.Now()}
	tc.sig = *c.Signal()
	s.admit(tc, h)
	if terminate {
		s.jobs <- tc // never blocks: pending ≤ cap(jobs)
	} else {
		go s.passthrough(tc)
	}
	return 0, loop.Continue
}

// worker runs handshakes until Shutdown ends.
func (s *Server) worker() {
	for {
		select {
		case tc := <-s.jobs:
			s.handshake(tc)
			s.pending.Add(-1)
		case <-s.quit:
			return
		}
	}
}

// track and untrack count the handed-off connections.
func (s *Server) track(c *Conn) {
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	s.open.Add(1)
	openConns.Add(1)
}

func (s *Server) untrack(c *Conn) {
	s.mu.Lock()
	_, ok := s.conns[c]
	delete(s.conns, c)
	s.mu.Unlock()
	if ok {
		s.open.Add(-1)
		openConns.Add(-1)
	}
}

// Shutdown stops new handshakes, closes connections idle between HTTP
// requests (and tells HTTP services to close the others after their
// current answer), and waits for the handed-off connections to end until
// ctx is done; then it closes what is left and returns ctx's error. The
// loop's own drain refuses new connections; call Shutdown when the loop's
// Run returns, or from loop.Config.OnShutdown in a goroutine.
func (s *Server) Shutdown(ctx context.Context) error {
	if !s.draining.CompareAndSwap(false, true) {
		return ErrShutdown
	}
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	var err error
	for s.open.Load() > 0 && err == nil {
		s.closeIdle()
		select {
		case <-ctx.Done():
			err = ctx.Err()
		case <-t.C:
		}
	}
	s.stopped.Store(true)
	s.mu.Lock()
	left := make([]*Conn, 0, len(s.conns))
	for c := range s.conns {
		left = append(left, c)
	}
	s.mu.Unlock()
	if len(left) > 0 {
		s.cfg.Logger.Warn("tls: shutdown grace ran out, closing connections", "connections", len(left))
	}
	for _, c := range left {
		c.forceClose()
	}
	close(s.quit)
	s.workers.Wait()
	for drained := false; !drained; {
		select {
		case tc := <-s.jobs:
			_ = tc.file.Close()
		default:
			drained = true
		}
	}
	for _, c := range left {
		s.untrack(c)
	}
	return err
}

// closeIdle closes the HTTP connections that wait for a request.
func (s *Server) closeIdle() {
	s.mu.Lock()
	var idle []*Conn
	for c := range s.conns {
		if st := c.httpState.Load(); c.served.Load() && (st == httpIdle || st == httpNew) {
			idle = append(idle, c)
		}
	}
	s.mu.Unlock()
	for _, c := range idle {
		_ = c.Close()
	}
}

// targets lists the table's targets, for validation.
func (t *table) targets() []*target {
	var out []*target
	for _, m := range []map[string]*hostRoutes{t.exact, t.wild} {
		for _, hr := range m {
			if hr.plain != nil {
				out = append(out, hr.plain)
			}
			for _, a := range hr.alpn {
				out = append(out, a.t)
			}
		}
	}
	if t.def != nil {
		out = append(out, t.def)
	}
	return out
}
