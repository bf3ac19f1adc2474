package loop

import (
	"log/slog"
	"time"

	"github.com/brink-edge/brink/connsig"
)

// Defaults used for zero Config fields.
const (
	DefaultAddr              = ":4242"
	DefaultIdleTimeout       = 90 * time.Second
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultShutdownGrace     = 10 * time.Second
	DefaultMaxBacklog        = 4 << 20
)

// lingerTime bounds how long a connection the handler closed waits for
// the client to close its side after our FIN, so that a response is not
// destroyed by a reset when the client is still sending.
const lingerTime = 2 * time.Second

// Config configures a Server. The zero value of every field means its
// documented default.
type Config struct {
	// Addr is the TCP address to listen on, host:port. A port of 0 picks a
	// free port when New runs; Server.Addr tells which. Empty means ":4242"
	// (Unleash Edge's port).
	Addr string
	// Loops is the number of event loops, each a goroutine polling its
	// share of the connections. Zero means GOMAXPROCS (as set before any
	// Server raised it: see KeepGOMAXPROCS).
	Loops int
	// ReusePort sets SO_REUSEPORT on the listening sockets and gives every
	// loop a listener and engine of its own, so that the kernel spreads
	// connections over the loops and over other processes listening on the
	// same port with SO_REUSEPORT (several brinks on one port). Without
	// it, one listener accepts and hands connections to the loops round
	// robin, and the port cannot be shared.
	ReusePort bool
	// MaxConns bounds the open connections; one more is accepted and
	// closed at once, counted in brink_loop_rejected_total{reason=
	// "max_connections"}. Zero means no limit.
	MaxConns int
	// IdleTimeout closes a connection that waited that long for the first
	// byte of its next message after the previous one was handled (a
	// keep-alive connection). Zero means 90 s (Unleash Edge's and
	// cmd/brink's fasthttp default).
	IdleTimeout time.Duration
	// ReadHeaderTimeout closes a connection whose message stays incomplete
	// for that long: from accept until its first message is consumed, and
	// from the first byte of each later message until the handler consumes
	// it. The loop cannot tell headers from bodies, so for HTTP this bounds
	// the whole request; request bodies here are small. Zero means 10 s.
	ReadHeaderTimeout time.Duration
	// ShutdownGrace bounds the drain of Run once its context is done:
	// connections with a request in progress get that long to finish
	// before they are closed. Zero means 10 s.
	ShutdownGrace time.Duration
	// MaxBacklog bounds the bytes written to a connection that the client
	// has not taken yet (the socket buffer being full): past it the
	// connection is closed (a pipelining client that does not read), and
	// Conn.WriteAsync fails with ErrBacklog. Zero means 4 MiB.
	MaxBacklog int
	// Capturer, when set, fills each connection's Signal from its socket
	// right after accept, before the handler sees the connection. Errors
	// are counted in brink_loop_capture_errors_total and leave the Signal
	// as captured so far. Nil means no capture (the Signal stays reset).
	Capturer connsig.Capturer
	// PrepareListener, when set, is called with each listening socket
	// before it accepts (for example to set TCP_SAVE_SYN). The fd is a
	// duplicate the loop closes afterwards. An error fails Run.
	PrepareListener func(fd int) error
	// OnShutdown, when set, is called once when Run starts draining, before
	// it waits for connections: it should end long-lived answers (event
	// streams) that would otherwise hold the drain until ShutdownGrace.
	OnShutdown func()
	// KeepGOMAXPROCS leaves GOMAXPROCS alone. By default Run raises it, while
	// the Server runs, to one more than the loops of all running Servers
	// (GOMAXPROCS 2 with one loop), so that one P stays idle: otherwise
	// the Go runtime takes a loop's P away whenever the loop waits in
	// epoll_wait and gives it back through a woken thread, which costs a
	// fifth more CPU per request (see procs.go). The extra P is idle while
	// the loops wait; it runs the process's other goroutines. Setting
	// GOMAXPROCS stops the runtime's own updates of it from the cgroup CPU
	// limit; Run puts back the value it found when the last Server stops.
	KeepGOMAXPROCS bool
	// Logger receives lifecycle lines (listening, draining, gnet's own
	// errors). Nil discards them.
	Logger *slog.Logger
}

// withDefaults returns cfg with its zero fields filled.
func (cfg Config) withDefaults() Config {
	if cfg.Addr == "" {
		cfg.Addr = DefaultAddr
	}
	if cfg.Loops <= 0 {
		cfg.Loops = baseProcs()
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.ReadHeaderTimeout <= 0 {
		cfg.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if cfg.ShutdownGrace <= 0 {
		cfg.ShutdownGrace = DefaultShutdownGrace
	}
	if cfg.MaxBacklog <= 0 {
		cfg.MaxBacklog = DefaultMaxBacklog
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg
}

// tickInterval is how often the timeouts are swept: an eighth of the
// shortest timeout, between 10 ms and 1 s.
func (cfg *Config) tickInterval() time.Duration {
	d := min(cfg.IdleTimeout, cfg.ReadHeaderTimeout) / 8
	return min(max(d, 10*time.Millisecond), time.Second)
}
