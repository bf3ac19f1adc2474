package tlsterm

import (
	"log/slog"
	"runtime"
	"time"
)

// Defaults used for zero Config fields.
const (
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultDialTimeout      = 5 * time.Second
	DefaultHandshakeQueue   = 1024
	// netpollHandshakesPerCPU is the netpoll mode's default MaxHandshakes
	// per GOMAXPROCS.
	netpollHandshakesPerCPU = 64
	// MaxHelloBytes bounds the ClientHello the loop waits for.
	MaxHelloBytes = 16 << 10
)

// CertPair names a PEM certificate chain file and its private key file.
type CertPair struct {
	CertFile string
	KeyFile  string
}

// Route sends the connections whose SNI matches Host (and whose
// ClientHello offers ALPN, when set) to a service or a backend.
type Route struct {
	// Host is an exact host name ("flags.example.com") or a wildcard for
	// one label ("*.example.com"); case does not matter.
	Host string
	// ALPN, when set, restricts the route to ClientHellos that offer this
	// protocol (e.g. "rstrm/1"); a route with ALPN wins over one without
	// for the same host.
	ALPN string
	// Service names the Service (Config.Services or SetService) that
	// serves the terminated connection. Exactly one of Service and
	// Passthrough is set.
	Service string
	// Passthrough is a backend host:port: the connection is not
	// terminated; its bytes, ClientHello included, are relayed to the
	// backend and back.
	Passthrough string
}

// Config configures a Server. The zero value of every field means its
// documented default.
type Config struct {
	// Certs are the certificate pairs, picked by SNI against each leaf's
	// DNS names (exact and wildcard); the first is used for a ClientHello
	// without SNI or with a name no certificate covers. Required.
	Certs []CertPair
	// EngineHost is brink's own host name: it routes to the service "api",
	// and "*.t.<EngineHost>" is reserved for tunnels (service "tunnel",
	// answering 503 until one is registered). Empty means neither route.
	EngineHost string
	// Routes are further host routes. A route for EngineHost replaces the
	// built-in one.
	Routes []Route
	// Default names the service for an SNI no route matches; empty means
	// such a client gets an unrecognized_name alert (112). A ClientHello
	// without SNI goes to Default, else to EngineHost's route.
	Default string
	// Services are the services routes name. More can be registered, or
	// replaced, with Server.SetService.
	Services map[string]Service
	// MaxHandshakes bounds the concurrent handshakes: the worker
	// goroutines in loop mode, the slots connections take in netpoll mode.
	// Zero means 4×GOMAXPROCS in loop mode and 64×GOMAXPROCS in netpoll
	// mode, where a waiting handshake costs no worker: a handshake holds
	// its slot across the client's round trip, so the bound must cover
	// handshake rate × round trip, or a slow client throttles the rest.
	MaxHandshakes int
	// HandshakeQueue bounds the connections waiting for a worker; past it
	// a new connection is refused with an alert. Zero means 1024.
	HandshakeQueue int
	// HandshakeTimeout bounds a handshake, time in the queue included.
	// Zero means 10 s.
	HandshakeTimeout time.Duration
	// MaxConns bounds the connections handed off from the loop and still
	// open (handshaking, served, or passed through); past it a new
	// connection gets an alert. Zero means no limit.
	MaxConns int
	// DialTimeout bounds dialling a passthrough backend. Zero means 5 s.
	DialTimeout time.Duration
	// MinVersion is the lowest TLS version accepted. Zero means TLS 1.2.
	MinVersion uint16
	// Logger receives reload results, refused connections (debug) and
	// service errors. Nil discards them.
	Logger *slog.Logger
}

func (cfg Config) withDefaults() Config {
	if cfg.MaxHandshakes <= 0 {
		cfg.MaxHandshakes = 4 * runtime.GOMAXPROCS(0)
	}
	if cfg.HandshakeQueue <= 0 {
		cfg.HandshakeQueue = DefaultHandshakeQueue
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.MinVersion == 0 {
		cfg.MinVersion = 0x0303
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg
}
