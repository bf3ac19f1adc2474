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
)

// shutdownGrace bounds how long in-flight requests may drain after SIGTERM,
// as Unleash Edge's 10 s graceful shutdown.
const shutdownGrace = 10 * time.Second

// listen opens the HTTP listener. "::" falls back to 0.0.0.0 on hosts
// without IPv6.
func listen(g *globalOptions) (net.Listener, error) {
	addr := net.JoinHostPort(g.Interface, strconv.Itoa(g.Port))
	ln, err := net.Listen("tcp", addr)
	if err != nil && g.Interface == "::" {
		if ln4, err4 := net.Listen("tcp", net.JoinHostPort("0.0.0.0", strconv.Itoa(g.Port))); err4 == nil {
			return ln4, nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", addr, err)
	}
	return ln, nil
}

// serveHTTP serves handler on ln until ctx is done or SIGINT/SIGTERM
// arrives, then drains in-flight requests within shutdownGrace. closing runs
// first, to end long-lived answers (event streams) that would hold the
// drain.
func serveHTTP(ctx context.Context, ln net.Listener, handler fasthttp.RequestHandler, closing func(), logger *slog.Logger) error {
	srv := &fasthttp.Server{
		Handler:               handler,
		Name:                  "brink",
		NoDefaultServerHeader: true,
		ReadTimeout:           15 * time.Second,
		IdleTimeout:           90 * time.Second,
		MaxRequestBodySize:    4 << 20,
		ReadBufferSize:        8 << 10,
		Logger:                fasthttpLogger{logger},
		CloseOnShutdown:       true,
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down", "grace", shutdownGrace)
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
