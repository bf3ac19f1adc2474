package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// DefaultPrometheusAddr is the configuration's default Prometheus listen
// address: loopback only, so no token is needed.
const DefaultPrometheusAddr = "127.0.0.1:9090"

// Config configures a Server. The zero value serves nothing.
type Config struct {
	// PrometheusAddr is the listen address of the Prometheus listener
	// (GET /metrics). Empty means no Prometheus listener.
	PrometheusAddr string
	// BearerToken, when set, is required on every request of both
	// listeners as "Authorization: Bearer <token>". It must be set when a
	// listener binds beyond loopback.
	BearerToken string
	// PprofAddr is the listen address of the admin listener (/metrics,
	// and /debug/pprof/ when Pprof is true). Empty means no admin listener;
	// pprof then goes on the Prometheus listener.
	PprofAddr string
	// Pprof turns on the /debug/pprof/ handlers. Off by default.
	Pprof bool
	// Logger receives the lifecycle lines; nil discards them.
	Logger *slog.Logger
}

// Server is the running metrics and admin listeners. Create it with New,
// serve with Run, stop with Shutdown (or by cancelling Run's context).
type Server struct {
	log     *slog.Logger
	servers []*listener

	shutdownOnce sync.Once
	shutdownErr  error
}

type listener struct {
	name string
	ln   net.Listener
	srv  *http.Server
}

var (
	scrapes      = metrics.NewCounter(`brink_admin_requests_total{result="ok"}`)
	unauthorized = metrics.NewCounter(`brink_admin_requests_total{result="unauthorized"}`)
)

// New validates cfg and binds its listeners; serving starts with Run. It
// refuses a listener that binds beyond loopback without a BearerToken, and
// Pprof without any listener to put it on.
func New(cfg Config) (*Server, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.PprofAddr == cfg.PrometheusAddr && !strings.HasSuffix(cfg.PprofAddr, ":0") {
		// One address named twice is one listener (port 0 asks for two).
		cfg.PprofAddr = ""
	}
	if cfg.Pprof && cfg.PrometheusAddr == "" && cfg.PprofAddr == "" {
		return nil, errors.New("admin: pprof is on but neither a Prometheus nor an admin listen address is set")
	}
	token := strings.TrimSpace(cfg.BearerToken)
	if cfg.BearerToken != "" && token == "" {
		return nil, errors.New("admin: the bearer token is only white space")
	}
	type want struct {
		name, addr string
		pprof      bool
	}
	var wants []want
	if cfg.PrometheusAddr != "" {
		wants = append(wants, want{"prometheus", cfg.PrometheusAddr, cfg.Pprof && cfg.PprofAddr == ""})
	}
	if cfg.PprofAddr != "" {
		wants = append(wants, want{"admin", cfg.PprofAddr, cfg.Pprof})
	}
	for _, w := range wants {
		if token != "" {
			continue
		}
		local, err := loopbackOnly(w.addr)
		if err != nil {
			return nil, fmt.Errorf("admin: %s listen address %q: %w", w.name, w.addr, err)
		}
		if !local {
			return nil, fmt.Errorf("admin: %s listen address %q binds beyond loopback: set a bearer token (metrics.prometheus.bearer_token) or bind 127.0.0.1/[::1]", w.name, w.addr)
		}
	}
	s := &Server{log: log}
	for _, w := range wants {
		ln, err := net.Listen("tcp", w.addr)
		if err != nil {
			s.closeListeners()
			return nil, fmt.Errorf("admin: listening for %s on %q: %w", w.name, w.addr, err)
		}
		s.servers = append(s.servers, &listener{
			name: w.name,
			ln:   ln,
			srv: &http.Server{
				Handler:           newHandler(token, w.pprof),
				ReadHeaderTimeout: 10 * time.Second,
				// A CPU profile or trace may take its ?seconds= (30 by
				// default) plus the transfer.
				WriteTimeout:   2 * time.Minute,
				IdleTimeout:    time.Minute,
				MaxHeaderBytes: 16 << 10,
				ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelWarn),
			},
		})
	}
	return s, nil
}

// PrometheusAddr returns the bound address of the Prometheus listener, or
// nil when there is none.
func (s *Server) PrometheusAddr() net.Addr { return s.addr("prometheus") }

// AdminAddr returns the bound address of the admin listener, or nil when
// there is none (pprof, if on, is then on the Prometheus listener).
func (s *Server) AdminAddr() net.Addr { return s.addr("admin") }

func (s *Server) addr(name string) net.Addr {
	for _, l := range s.servers {
		if l.name == name {
			return l.ln.Addr()
		}
	}
	return nil
}

// Run serves until ctx is cancelled or a listener fails, then shuts the
// listeners down (waiting up to five seconds for scrapes in flight). It
// returns nil after a cancellation, else the first listener's error.
func (s *Server) Run(ctx context.Context) error {
	if len(s.servers) == 0 {
		<-ctx.Done()
		return nil
	}
	errc := make(chan error, len(s.servers))
	for _, l := range s.servers {
		s.log.Info("admin listener serving", "listener", l.name, "addr", l.ln.Addr().String())
		go func() {
			err := l.srv.Serve(l.ln)
			if errors.Is(err, http.ErrServerClosed) {
				err = nil
			} else if err != nil {
				err = fmt.Errorf("admin: serving %s on %s: %w", l.name, l.ln.Addr(), err)
			}
			errc <- err
		}()
	}
	var first error
	select {
	case <-ctx.Done():
	case first = <-errc:
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(sctx); err != nil && first == nil {
		first = err
	}
	return first
}

// Shutdown stops both listeners, letting requests in flight finish until
// ctx ends. It is safe to call more than once and before Run.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutdownOnce.Do(func() {
		var errs []error
		for _, l := range s.servers {
			if err := l.srv.Shutdown(ctx); err != nil {
				errs = append(errs, fmt.Errorf("admin: shutting down %s: %w", l.name, err))
			}
			// Shutdown does not close a listener Serve never took.
			_ = l.ln.Close()
		}
		s.shutdownErr = errors.Join(errs...)
	})
	return s.shutdownErr
}

func (s *Server) closeListeners() {
	for _, l := range s.servers {
		_ = l.ln.Close()
	}
}

// newHandler builds one listener's private mux: /metrics, and the pprof
// handlers when withPprof; behind the bearer check when token is set.
func newHandler(token string, withPprof bool) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", serveMetrics)
	if withPprof {
		registerPprof(mux)
	}
	if token == "" {
		return mux
	}
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !authorized(r.Header.Get("Authorization"), &want) {
			unauthorized.Inc()
			w.Header().Set("WWW-Authenticate", `Bearer realm="brink-metrics"`)
			http.Error(w, "401 unauthorized: send Authorization: Bearer <metrics token>", http.StatusUnauthorized)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// authorized reports whether header is "Bearer <token>" (scheme matched
// case-insensitively) for the token whose SHA-256 digest is want,
// comparing digests in constant time.
func authorized(header string, want *[sha256.Size]byte) bool {
	const scheme = "bearer "
	if len(header) <= len(scheme) || !strings.EqualFold(header[:len(scheme)], scheme) {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(header[len(scheme):])))
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1
}

func serveMetrics(w http.ResponseWriter, _ *http.Request) {
	scrapes.Inc()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	metrics.WritePrometheus(w, true)
}

// lookupNetIP resolves listen host names; a variable so tests can resolve
// a name to addresses this machine does not have.
var lookupNetIP = net.DefaultResolver.LookupNetIP

// loopbackOnly reports whether the listen address addr accepts loopback
// connections only: an IP literal that is loopback, or a host name all of
// whose addresses are. A wildcard or empty host is not.
func loopbackOnly(addr string) (bool, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false, fmt.Errorf("not host:port: %w", err)
	}
	if host == "" {
		return false, nil
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip.Unmap().IsLoopback(), nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ips, err := lookupNetIP(ctx, "ip", host)
	if err != nil {
		return false, fmt.Errorf("resolving %q: %w", host, err)
	}
	for _, ip := range ips {
		if !ip.Unmap().IsLoopback() {
			return false, nil
		}
	}
	return len(ips) > 0, nil
}
