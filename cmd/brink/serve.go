package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/brink-edge/brink/admin"
	"github.com/brink-edge/brink/config"
	"github.com/brink-edge/brink/ebpf/tcpsig"
	"github.com/brink-edge/brink/flags/api"
	"github.com/brink-edge/brink/loop"
	"github.com/brink-edge/brink/proto/http1"
	"github.com/brink-edge/brink/tlsterm"
)

// shutdownGrace bounds how long in-flight requests may drain after SIGTERM,
// as Unleash Edge's 10 s graceful shutdown.
const shutdownGrace = 10 * time.Second

// server is everything a serving command listens with: the plain HTTP
// front chosen by --server (fasthttp.Server, goroutine per connection, or
// the gnet event loop), the TLS listener (tlsterm, accepting as tls.accept
// says: netpoll, a net.Listener and a pooled goroutine per connection, or
// loop, ClientHello peek and SNI routing on the loop, handshakes on
// workers), the
// plain listener that redirects to HTTPS, and the operator's metrics and
// admin listeners. Any of them may be absent.
type server struct {
	g       *globalOptions
	cfg     *config.Config
	logger  *slog.Logger
	capture tcpsig.Capturer // nil with --signal-capture off
	closing func()          // ends long-lived answers before a drain
	edge    *edgeSide       // relay, connector and /health (relay.go)
	// mayBlock names the requests whose handler may wait on the network
	// (flags/api's MayBlock); the event-loop front runs them off the loop.
	mayBlock func(*fasthttp.RequestCtx) bool

	// The plain front: addr is its address ("" when TLS replaced it).
	addr string
	ln   net.Listener // fasthttp path only
	srv  *fasthttp.Server
	ls   *loop.Server

	// The TLS listener: tlsLoop (tls.accept loop) or tlsAcc (netpoll).
	tlsAddr string
	tlsLoop *loop.Server
	tlsAcc  *tlsterm.Acceptor
	tlsTerm *tlsterm.Server

	// The redirect listener (http.listen_addr).
	redirLn  net.Listener
	redirSrv *fasthttp.Server

	admin *admin.Server
}

// newServer validates the server options and opens the capturer (before
// any listening socket exists, as eBPF wants).
func newServer(g *globalOptions, logger *slog.Logger) (*server, error) {
	cfg := g.cfg
	if cfg == nil {
		cfg = config.Default()
	}
	s := &server{g: g, cfg: cfg, logger: logger}
	if cfg.Relay.URL != "" && g.Server == "loop" && cfg.PlainAddr() != "" && !strings.HasPrefix(strings.ToLower(cfg.Relay.URL), "http://") {
		// The loop forwards to a plain-HTTP upstream itself (http1's
		// proxy). An https upstream goes through fasthttp's client, which
		// waits for the upstream and would stall every connection of its
		// loop: the default front gives way to fasthttp.Server; one asked
		// for explicitly (or with loop-only options) is refused.
		if cfg.Origin("server.front") != "default" || g.ReusePort || g.MaxConnections != 0 || g.Loops != 0 {
			return nil, usageError{errors.New("an https relay.url (OCTET_URL) with --server loop (or --reuseport, --max-connections, --loops): the loop forwards to plain-HTTP upstreams only, and fasthttp's TLS client would stall the event loop; use --server fasthttp (what an https upstream on plain HTTP gets by default), TLS on the front, or an http:// upstream")}
		}
		g.Server = "fasthttp"
		logger.Info("the relay serves plain HTTP on fasthttp.Server: its upstream is https, which the event loop does not forward to")
	}
	switch g.Server {
	case "fasthttp", "loop":
	default:
		return nil, usageError{fmt.Errorf("invalid --server %q: use fasthttp or loop", g.Server)}
	}
	if g.Server == "fasthttp" && (g.ReusePort || g.MaxConnections != 0 || g.Loops != 0) && !cfg.TLS.Enabled {
		return nil, usageError{errors.New("--reuseport, --max-connections and --loops need --server loop (or TLS, which honours --reuseport and --max-connections, and --loops with --tls-accept loop)")}
	}
	ccfg := tcpsig.Config{Logger: logger}
	switch g.SignalCapture {
	case "auto":
		s.capture = tcpsig.Auto(ccfg)
	case "ebpf":
		c, err := tcpsig.Open(ccfg)
		if err != nil {
			return nil, fmt.Errorf("--signal-capture ebpf: %w", err)
		}
		s.capture = c
	case "fallback":
		s.capture = tcpsig.Fallback{}
	case "off":
	default:
		return nil, usageError{fmt.Errorf("invalid --signal-capture %q: use auto, ebpf, fallback or off", g.SignalCapture)}
	}
	return s, nil
}

// captureMode names the capture in use: ebpf, fallback or off.
func (s *server) captureMode() string {
	if s.capture == nil {
		return "off"
	}
	return s.capture.Mode().String()
}

// openServer builds the flag API from acfg, puts the relay and /health in
// front of it when configured, and opens every listener, ready to run.
func openServer(g *globalOptions, logger *slog.Logger, acfg api.Config) (*server, error) {
	acfg.SignalPath = g.SignalPath
	h, err := api.New(acfg)
	if err != nil {
		return nil, usageError{err}
	}
	s, err := newServer(g, logger)
	if err != nil {
		return nil, err
	}
	s.mayBlock = h.MayBlock
	if err := s.openEdgeSide(h.Handle, false); err != nil {
		s.close()
		return nil, err
	}
	if err := s.listen(h.CloseStreams); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

func (s *server) close() {
	if s.capture != nil {
		_ = s.capture.Close()
	}
	if s.edge != nil {
		s.edge.abort()
	}
	for _, ln := range []net.Listener{s.ln, s.redirLn} {
		if ln != nil {
			_ = ln.Close()
		}
	}
	if s.tlsAcc != nil {
		_ = s.tlsAcc.Close()
	}
	if s.admin != nil {
		_ = s.admin.Shutdown(context.Background())
	}
}

// hasIPv6 reports whether the host can listen on IPv6, for the default
// dual-stack interface "::".
func hasIPv6() bool {
	l, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}

// dualStack turns a "[::]:port" address into "0.0.0.0:port" on hosts
// without IPv6.
func dualStack(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err == nil && (host == "::" || host == "") && !hasIPv6() {
		return net.JoinHostPort("0.0.0.0", port)
	}
	if err == nil && host == "" {
		return net.JoinHostPort("::", port)
	}
	return addr
}

// listenTCP opens a plain TCP listener (Go's default multipath TCP rejects
// TCP_SAVE_SYN) on addr, "::" falling back to 0.0.0.0 on hosts without
// IPv6 (dualStack).
func listenTCP(addr string) (net.Listener, error) {
	var lc net.ListenConfig
	lc.SetMultipathTCP(false)
	addr = dualStack(addr)
	ln, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", addr, err)
	}
	return ln, nil
}

// listen opens the listeners the configuration asks for around s.handler;
// closing runs first on shutdown, to end long-lived answers (event
// streams) that would hold the drain.
func (s *server) listen(closing func()) error {
	s.closing = closing
	handler := s.edge.handler
	if addr := s.cfg.PlainAddr(); addr != "" {
		if err := s.openPlain(addr, handler); err != nil {
			return err
		}
	}
	if s.cfg.TLS.Enabled {
		if err := s.openTLS(handler); err != nil {
			return err
		}
	}
	if s.cfg.HTTP.ListenAddr != "" {
		if err := s.openRedirect(); err != nil {
			return err
		}
	}
	if s.addr == "" && s.tlsAddr == "" {
		return usageError{errors.New("nothing to listen on: set server.port or tls")}
	}
	return s.openAdmin()
}

// primaryAddr is the address logs and the demo line name: TLS when on.
func (s *server) primaryAddr() string {
	if s.tlsAddr != "" {
		return s.tlsAddr
	}
	return s.addr
}

// scheme is "https" when the primary listener is TLS.
func (s *server) scheme() string {
	if s.tlsAddr != "" {
		return "https"
	}
	return "http"
}

// loopConfig is the loop configuration shared by the plain and TLS fronts.
func (s *server) loopConfig(addr string) loop.Config {
	cfg := loop.Config{
		Addr:              addr,
		Loops:             s.g.Loops,
		ReusePort:         s.g.ReusePort,
		MaxConns:          s.g.MaxConnections,
		IdleTimeout:       90 * time.Second,
		ReadHeaderTimeout: 15 * time.Second,
		ShutdownGrace:     shutdownGrace,
		Logger:            s.logger,
	}
	if s.capture != nil {
		cfg.Capturer = s.capture
		// As on the fasthttp path, a listener that cannot be prepared
		// (TCP_SAVE_SYN refused) costs the SYN headers, not the service.
		prepare, logger := s.capture.PrepareListener, s.logger
		cfg.PrepareListener = func(fd int) error {
			if err := prepare(fd); err != nil {
				logger.Warn("connection signals without SYN headers: the listener cannot be prepared", "err", err)
			}
			return nil
		}
	}
	return cfg
}

// maxBody bounds request bodies: 4 MiB as Unleash Edge's, or more when
// relay.max_body_bytes asks for more (the relay checks its own bound).
func (s *server) maxBody() int {
	return max(4<<20, int(s.cfg.Relay.MaxBodyBytes))
}

// httpServer returns the fasthttp.Server settings every HTTP front shares:
// the plain fasthttp front and the HTTP services behind TLS.
func (s *server) httpServer(h fasthttp.RequestHandler) *fasthttp.Server {
	return &fasthttp.Server{
		Handler:               h,
		Name:                  "brink",
		NoDefaultServerHeader: true,
		ReadTimeout:           15 * time.Second,
		IdleTimeout:           90 * time.Second,
		MaxRequestBodySize:    s.maxBody(),
		ReadBufferSize:        8 << 10,
		Logger:                fasthttpLogger{s.logger},
		CloseOnShutdown:       true,
	}
}

// openPlain opens the plain HTTP front on addr.
func (s *server) openPlain(addr string, handler fasthttp.RequestHandler) error {
	if s.g.Server == "fasthttp" {
		ln, err := listenTCP(addr)
		if err != nil {
			return err
		}
		s.ln = ln
		if s.capture != nil {
			wl, err := tcpsig.NewListener(ln, s.capture)
			if err != nil {
				s.logger.Warn("connection signals off: the listener cannot be prepared", "err", err)
			} else {
				s.ln = wl
			}
		}
		s.addr = s.ln.Addr().String()
		s.srv = s.httpServer(handler)
		return nil
	}
	hcfg := http1.Config{Handler: handler, MaxBodyBytes: s.maxBody(), Logger: s.logger, Offload: s.mayBlock}
	if e := s.edge; e != nil && e.relay != nil {
		// The loop forwards relay routes itself (newServer let only an
		// http:// upstream get here); HTTP/1.0 requests take the handler's
		// path, off the loop.
		hcfg.Proxy = e.proxyConfig(s.g.Loops)
		hcfg.Offload = func(ctx *fasthttp.RequestCtx) bool {
			if s.mayBlock != nil && s.mayBlock(ctx) {
				return true
			}
			// The proxy took the HTTP/1.1 requests of the routes: what
			// is left for relay.Handle is HTTP/1.0, and in relay mode
			// anything outside the routes.
			return (e.relayMode || !ctx.Request.Header.IsHTTP11()) && e.relays(ctx)
		}
		if e.connector != nil {
			hcfg.OnOpen = e.record
			e.recordOnOpen = true
		}
	}
	hs, err := http1.New(hcfg)
	if err != nil {
		return err
	}
	cfg := s.loopConfig(dualStack(addr))
	cfg.OnShutdown = s.closing
	if s.ls, err = loop.New(cfg, hs); err != nil {
		return fmt.Errorf("starting the event loop on %s: %w", addr, err)
	}
	s.addr = s.ls.Addr()
	return nil
}

// connService serves terminated TLS connections with
// http1.Server.ServeConn on their own goroutine: relay routes are
// forwarded as bytes over a shared pool of upstream connections (TLS ones
// for an https upstream, with the relay's mutual-TLS certificate); the
// rest (/health, probes, the flag API, HTTP/1.0) go to handler.
func (s *server) connService(handler fasthttp.RequestHandler) (tlsterm.Service, error) {
	e := s.edge
	hs, err := http1.New(http1.Config{Handler: handler, MaxBodyBytes: s.maxBody(), Logger: s.logger,
		Proxy: e.proxyConfig(s.g.Loops)})
	if err != nil {
		return nil, err
	}
	if e.relay.UpstreamTLS() {
		hs.SetUpstreamTLS(e.relay.UpstreamTLSConfig())
	}
	// Each connection's signal is shipped once its handshake is done, as
	// recordingService does for the fasthttp services.
	return tlsterm.HTTPConnService{Serve: func(nc net.Conn) error {
		if e.connector != nil {
			e.record(nc)
		}
		return hs.ServeConn(nc)
	}}, nil
}

// openTLS opens the TLS listener: tlsterm peeks and routes ClientHellos,
// terminates them and serves the routes' services, accepting on Go's
// netpoller (tls.accept netpoll) or on the event loop (loop).
func (s *server) openTLS(handler fasthttp.RequestHandler) error {
	t := s.cfg.TLS
	var pairs []tlsterm.CertPair
	if t.CertFile != "" || t.KeyFile != "" {
		pairs = append(pairs, tlsterm.CertPair{CertFile: t.CertFile, KeyFile: t.KeyFile})
	}
	for _, p := range t.Certificates {
		pairs = append(pairs, tlsterm.CertPair{CertFile: p.CertFile, KeyFile: p.KeyFile})
	}
	services := map[string]tlsterm.Service{tlsterm.ServiceAPI: s.edge.tlsService(s.httpServer(handler))}
	if s.edge.relay != nil {
		// With a relay, both services forward its routes as bytes
		// (http1.Server.ServeConn): the relay's, and the API's, whose
		// other requests go to the flag API (in relay mode it is the same
		// relay-only front).
		rs, err := s.connService(s.edge.relayOnly)
		if err != nil {
			return err
		}
		services[serviceRelay] = rs
		if s.edge.relayMode {
			services[tlsterm.ServiceAPI] = rs
		} else if services[tlsterm.ServiceAPI], err = s.connService(handler); err != nil {
			return err
		}
	}
	var routes []tlsterm.Route
	for _, r := range t.Routes {
		if r.Service != "" {
			if _, ok := services[r.Service]; !ok && r.Service != tlsterm.ServiceTunnel {
				return usageError{fmt.Errorf("tls.routes: host %q names service %q; the services are %q and %q (with relay.url)", r.Host, r.Service, tlsterm.ServiceAPI, serviceRelay)}
			}
		}
		routes = append(routes, tlsterm.Route{Host: r.Host, ALPN: r.ALPN, Service: r.Service, Passthrough: r.Passthrough})
	}
	def := t.DefaultService
	if def == "" && s.cfg.Engine.Host == "" {
		// Without a base host every name no route claims is the base host.
		def = tlsterm.ServiceAPI
	}
	if def != "" {
		if _, ok := services[def]; !ok {
			return usageError{fmt.Errorf("tls.default_service %q is not a service (%q, or %q with relay.url)", def, tlsterm.ServiceAPI, serviceRelay)}
		}
	}
	ts, err := tlsterm.New(tlsterm.Config{
		Certs:      pairs,
		EngineHost: s.cfg.Engine.Host,
		Routes:     routes,
		Default:    def,
		Services:   services,
		MaxConns:   s.g.MaxConnections,
		Logger:     s.logger,
	})
	if err != nil {
		return usageError{err}
	}
	s.tlsTerm = ts
	cfg := s.loopConfig(dualStack(t.ListenAddr))
	// TCP keepalive set once on the listener is inherited by every
	// accepted socket, so tlsterm need not set it per handed-off socket.
	capturePrepare, logger := cfg.PrepareListener, s.logger
	cfg.PrepareListener = func(fd int) error {
		if err := tlsterm.PrepareListener(fd); err != nil {
			logger.Warn("TLS listener without keepalive defaults; set per connection instead", "err", err)
		}
		if capturePrepare != nil {
			return capturePrepare(fd)
		}
		return nil
	}
	cfg.OnShutdown = s.closing
	if t.Accept == tlsterm.AcceptNetpoll {
		s.tlsAcc, err = tlsterm.NewAcceptor(ts, tlsterm.AcceptConfig{
			Addr:              cfg.Addr,
			ReadHeaderTimeout: cfg.ReadHeaderTimeout,
			MaxConns:          cfg.MaxConns,
			ReusePort:         cfg.ReusePort,
			Capturer:          cfg.Capturer,
			PrepareListener:   cfg.PrepareListener,
			OnShutdown:        cfg.OnShutdown,
		})
		if err != nil {
			return fmt.Errorf("starting the TLS listener on %s: %w", t.ListenAddr, err)
		}
		s.tlsAddr = s.tlsAcc.Addr()
		return nil
	}
	if s.tlsLoop, err = loop.New(cfg, ts); err != nil {
		return fmt.Errorf("starting the TLS listener on %s: %w", t.ListenAddr, err)
	}
	s.tlsAddr = s.tlsLoop.Addr()
	return nil
}

// openRedirect opens the plain listener that answers 308 to HTTPS (and
// passes ACME challenges through when configured).
func (s *server) openRedirect() error {
	port := 443
	if _, p, err := net.SplitHostPort(s.tlsAddr); err == nil {
		port, _ = strconv.Atoi(p)
	}
	h, err := tlsterm.RedirectHandler(tlsterm.RedirectConfig{HTTPSPort: port, ACMEBackend: s.cfg.HTTP.AcmePassthrough})
	if err != nil {
		return usageError{err}
	}
	ln, err := listenTCP(s.cfg.HTTP.ListenAddr)
	if err != nil {
		return err
	}
	s.redirLn = ln
	s.redirSrv = &fasthttp.Server{
		Handler:               h,
		Name:                  "brink",
		NoDefaultServerHeader: true,
		ReadTimeout:           15 * time.Second,
		IdleTimeout:           30 * time.Second,
		MaxRequestBodySize:    64 << 10,
		Logger:                fasthttpLogger{s.logger},
		CloseOnShutdown:       true,
	}
	return nil
}

// openAdmin opens the Prometheus and admin listeners when configured.
func (s *server) openAdmin() error {
	m, a := s.cfg.Metrics.Prometheus, s.cfg.Admin
	if m.ListenAddr == "" && a.ListenAddr == "" {
		return nil
	}
	adm, err := admin.New(admin.Config{
		PrometheusAddr: m.ListenAddr,
		BearerToken:    m.BearerToken,
		PprofAddr:      a.ListenAddr,
		Pprof:          a.Pprof,
		Logger:         s.logger,
	})
	if err != nil {
		return usageError{err}
	}
	s.admin = adm
	return nil
}

// run serves until ctx is done or SIGINT/SIGTERM arrives, then drains
// in-flight requests within shutdownGrace on every listener, and flushes
// the signal connector (or spools what it could not send).
func (s *server) run(ctx context.Context) error {
	defer s.close()
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if s.tlsAddr != "" && s.addr == "" {
		s.logger.Info("serving HTTPS only; plain HTTP is off", "tls", s.tlsAddr)
	}
	if s.tlsAddr == "" {
		s.logger.Warn("serving plain HTTP: only safe behind a front that preserves the browser connection (configure TLS to make brink the connection-terminating hop)", "addr", s.addr)
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	fail := func(err error) {
		if err == nil {
			return
		}
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
		stop() // one listener failing ends them all
	}
	if s.ls != nil {
		wg.Go(func() { fail(s.ls.Run(ctx)) })
	}
	if s.srv != nil {
		wg.Go(func() { fail(s.runFasthttp(ctx, s.srv, s.ln, s.closing)) })
	}
	if s.tlsLoop != nil || s.tlsAcc != nil {
		wg.Go(func() {
			var err error
			if s.tlsAcc != nil {
				err = s.tlsAcc.Run(ctx)
			} else {
				err = s.tlsLoop.Run(ctx)
			}
			sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
			defer cancel()
			if e := s.tlsTerm.Shutdown(sctx); e != nil && !errors.Is(e, context.DeadlineExceeded) {
				s.logger.Warn("TLS drain", "err", e)
			}
			fail(err)
		})
	}
	if s.redirSrv != nil {
		wg.Go(func() { fail(s.runFasthttp(ctx, s.redirSrv, s.redirLn, nil)) })
	}
	if s.admin != nil {
		wg.Go(func() { fail(s.admin.Run(ctx)) })
	}
	wg.Wait()
	if s.edge != nil {
		s.edge.shutdown(s.logger)
	}
	return errors.Join(errs...)
}

// runFasthttp serves srv on ln until ctx is done, then drains it.
func (s *server) runFasthttp(ctx context.Context, srv *fasthttp.Server, ln net.Listener, closing func()) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	if closing != nil {
		closing()
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.ShutdownWithContext(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("shutting down: %w", err)
	}
	return nil
}

// fasthttpLogger sends fasthttp's own messages (bad requests, timeouts) to
// slog at debug level: they are client faults, not server events.
type fasthttpLogger struct{ l *slog.Logger }

func (f fasthttpLogger) Printf(format string, args ...any) {
	f.l.Debug(fmt.Sprintf(format, args...))
}
