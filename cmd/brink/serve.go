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
	"syscall"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/brink-edge/brink/ebpf/tcpsig"
	"github.com/brink-edge/brink/flags/api"
	"github.com/brink-edge/brink/loop"
	"github.com/brink-edge/brink/proto/http1"
)

// shutdownGrace bounds how long in-flight requests may drain after SIGTERM,
// as Unleash Edge's 10 s graceful shutdown.
const shutdownGrace = 10 * time.Second

// server is the HTTP front chosen by --server: the fasthttp.Server
// (goroutine per connection, the baseline) or the gnet event loop.
type server struct {
	g       *globalOptions
	logger  *slog.Logger
	capture tcpsig.Capturer // nil with --signal-capture off
	ln      net.Listener    // fasthttp path only
	addr    string
	srv     *fasthttp.Server
	ls      *loop.Server
	closing func()
}

// newServer validates the server options, opens the capturer (before any
// listening socket exists, as eBPF wants) and, for fasthttp, the listener.
func newServer(g *globalOptions, logger *slog.Logger) (*server, error) {
	s := &server{g: g, logger: logger, addr: net.JoinHostPort(g.Interface, strconv.Itoa(g.Port))}
	switch g.Server {
	case "fasthttp", "loop":
	default:
		return nil, usageError{fmt.Errorf("invalid --server %q: use fasthttp or loop", g.Server)}
	}
	if g.Server == "fasthttp" && (g.ReusePort || g.MaxConnections != 0 || g.Loops != 0) {
		return nil, usageError{errors.New("--reuseport, --max-connections and --loops need --server loop")}
	}
	cfg := tcpsig.Config{Logger: logger}
	switch g.SignalCapture {
	case "auto":
		s.capture = tcpsig.Auto(cfg)
	case "ebpf":
		c, err := tcpsig.Open(cfg)
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
	if g.Server == "loop" && g.Interface == "::" && !hasIPv6() {
		s.addr = net.JoinHostPort("0.0.0.0", strconv.Itoa(g.Port))
	}
	if g.Server == "fasthttp" {
		ln, err := listen(g)
		if err != nil {
			s.close()
			return nil, err
		}
		s.ln = ln
		if s.capture != nil {
			wl, err := tcpsig.NewListener(ln, s.capture)
			if err != nil {
				logger.Warn("connection signals off: the listener cannot be prepared", "err", err)
			} else {
				s.ln = wl
			}
		}
		s.addr = s.ln.Addr().String()
	}
	return s, nil
}

// openServer builds the flag API from acfg and the front that serves it,
// ready to run.
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
	if err := s.prepare(h.Handle, h.CloseStreams); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

func (s *server) close() {
	if s.capture != nil {
		_ = s.capture.Close()
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

// listen opens the HTTP listener, plain TCP (Go's default multipath TCP
// rejects TCP_SAVE_SYN). "::" falls back to 0.0.0.0 on hosts without IPv6.
func listen(g *globalOptions) (net.Listener, error) {
	var lc net.ListenConfig
	lc.SetMultipathTCP(false)
	addr := net.JoinHostPort(g.Interface, strconv.Itoa(g.Port))
	ln, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil && g.Interface == "::" {
		if ln4, err4 := lc.Listen(context.Background(), "tcp", net.JoinHostPort("0.0.0.0", strconv.Itoa(g.Port))); err4 == nil {
			return ln4, nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", addr, err)
	}
	return ln, nil
}

// prepare builds the chosen front around handler; closing runs first on
// shutdown, to end long-lived answers (event streams) that would hold the
// drain. After it, addr is the address actually listened on.
func (s *server) prepare(handler fasthttp.RequestHandler, closing func()) error {
	s.closing = closing
	if s.g.Server == "fasthttp" {
		s.srv = &fasthttp.Server{
			Handler:               handler,
			Name:                  "brink",
			NoDefaultServerHeader: true,
			ReadTimeout:           15 * time.Second,
			IdleTimeout:           90 * time.Second,
			MaxRequestBodySize:    4 << 20,
			ReadBufferSize:        8 << 10,
			Logger:                fasthttpLogger{s.logger},
			CloseOnShutdown:       true,
		}
		return nil
	}
	hs, err := http1.New(http1.Config{Handler: handler, MaxBodyBytes: 4 << 20, Logger: s.logger})
	if err != nil {
		return err
	}
	cfg := loop.Config{
		Addr:              s.addr,
		Loops:             s.g.Loops,
		ReusePort:         s.g.ReusePort,
		MaxConns:          s.g.MaxConnections,
		IdleTimeout:       90 * time.Second,
		ReadHeaderTimeout: 15 * time.Second,
		ShutdownGrace:     shutdownGrace,
		OnShutdown:        closing,
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
	if s.ls, err = loop.New(cfg, hs); err != nil {
		return fmt.Errorf("starting the event loop on %s: %w", s.addr, err)
	}
	s.addr = s.ls.Addr()
	return nil
}

// run serves until ctx is done or SIGINT/SIGTERM arrives, then drains
// in-flight requests within shutdownGrace.
func (s *server) run(ctx context.Context) error {
	defer s.close()
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if s.ls != nil {
		return s.ls.Run(ctx)
	}
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.logger.Info("shutting down", "grace", shutdownGrace)
	if s.closing != nil {
		s.closing()
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := s.srv.ShutdownWithContext(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
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
