package relay

import (
	"cmp"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"time"
)

// Defaults of Config.
const (
	DefaultLicenseHeader    = "X-License-Key"
	DefaultSignalHeader     = "X-Brink-Signal"
	DefaultIngestPath       = "/ingest/signals"
	DefaultTimeout          = 30 * time.Second
	DefaultMaxBodyBytes     = 8 << 20
	DefaultMaxResponseBytes = 64 << 20
	DefaultMaxConns         = 512
	DefaultIdleConnTimeout  = 10 * time.Second
	DefaultBatchRecords     = 1000
	MaxBatchRecords         = 10000
	DefaultFlushInterval    = time.Second
	DefaultQueueRecords     = 65536
	DefaultSpoolMaxBytes    = 256 << 20
	DefaultMemoryMaxBytes   = 64 << 20
	DefaultIngestTimeout    = 10 * time.Second
	DefaultProbeInterval    = 30 * time.Second
)

// Route selects the requests Relay.Match accepts: a hostname and/or a path
// prefix. Both set means both must match.
type Route struct {
	// Host is compared case-insensitively with the request's Host header
	// without its port. Empty matches any host.
	Host string
	// PathPrefix matches a path equal to it or continuing it at a '/'
	// ("/octet" matches "/octet" and "/octet/x", not "/octetx"); a prefix
	// ending in '/' matches any path that starts with it. Empty matches
	// any path.
	PathPrefix string
	// StripPrefix removes PathPrefix from the forwarded path ("/octet/x"
	// goes upstream as "/x"); by default the path is forwarded whole.
	StripPrefix bool
}

// Config configures the relay's forwarder (New), signal connector
// (NewConnector) and health handler (NewHealth). The zero value of every
// field means its documented default. cmd fills it from the seed's
// environment variables, named after each field.
type Config struct {
	// URL is the upstream base URL (OCTET_URL), http:// or https://. A path
	// in it is prepended to every forwarded path and to IngestPath.
	// Required.
	URL string
	// License is the licence key (LICENSE), sent in LicenseHeader on every
	// upstream request (forwarded requests, ingest batches, probes). A
	// licence header sent by the client is always removed first.
	License string
	// LicenseHeader names the licence header. Default "X-License-Key".
	LicenseHeader string
	// CAFile (OCTET_CA_FILE), ClientCertFile (EDGE_CLIENT_CERT_FILE) and
	// ClientKeyFile (EDGE_CLIENT_KEY_FILE) turn on mutual TLS to the
	// upstream: the upstream's certificate must chain to a certificate of
	// CAFile (besides the system roots) and brink presents the PEM
	// certificate chain and key. All three or none; some is an error.
	CAFile, ClientCertFile, ClientKeyFile string
	// TLS, when set, is the base of the upstream TLS configuration (it is
	// cloned; the mutual-TLS files above are added to the clone). Nil means
	// TLS 1.2 or later with the system roots.
	TLS *tls.Config
	// Routes are the requests Match accepts. None means Match is always
	// false (the relay only ships signals).
	Routes []Route
	// TrustForwardedFor appends the connection's client IP to an
	// X-Forwarded-For chain the client sent. Off (the default), the
	// client's value is replaced by the connection's IP: turn it on only
	// behind a front that sets the header itself.
	TrustForwardedFor bool
	// StreamResponses streams upstream answers to the client as they
	// arrive instead of reading them whole first; it costs about four
	// allocations per request. Off, answers are buffered (up to
	// MaxResponseBytes) and forwarding allocates nothing.
	StreamResponses bool
	// Timeout bounds a forwarded request from dialling to the end of the
	// upstream's answer; past it the client gets 504. Default 30 s.
	Timeout time.Duration
	// MaxBodyBytes bounds a forwarded request body; larger ones get 413.
	// Default 8 MiB.
	MaxBodyBytes int
	// MaxResponseBytes bounds a buffered upstream answer; a larger one gets
	// 502. Default 64 MiB.
	MaxResponseBytes int
	// MaxConns bounds the upstream connections. Default 512.
	MaxConns int
	// IdleConnTimeout closes upstream keep-alive connections idle that
	// long; keep it below the upstream's own idle timeout. Default 10 s.
	IdleConnTimeout time.Duration

	// IngestPath is where the connector posts signal batches, below URL.
	// Default "/ingest/signals".
	IngestPath string
	// BatchRecords is the most records in one batch, at most
	// MaxBatchRecords. Default 1000.
	BatchRecords int
	// FlushInterval is the longest a record waits in memory before its
	// batch is sent or spooled. Default 1 s.
	FlushInterval time.Duration
	// QueueRecords bounds the records waiting in memory for a batch;
	// beyond it Add drops (reason "queue_full"). Default 65536.
	QueueRecords int
	// SpoolDir keeps batches the upstream did not take, one file each;
	// empty keeps them in memory (MemoryMaxBytes) and loses them on exit.
	SpoolDir string
	// SpoolMaxBytes bounds the spool; beyond it the oldest batches are
	// removed (reason "spool_full"). Default 256 MiB.
	SpoolMaxBytes int64
	// MemoryMaxBytes bounds the unsent batches kept in memory when SpoolDir
	// is empty; beyond it the oldest are dropped (reason "memory_full").
	// Default 64 MiB.
	MemoryMaxBytes int64
	// IngestTimeout bounds one batch post. Default 10 s.
	IngestTimeout time.Duration
	// InstanceID starts the Idempotency-Key of this process's batches,
	// "<InstanceID>.<start time, base 36 ns>-<sequence>".
	// Default: random, new for every Connector.
	InstanceID string

	// ProbeInterval is how often the health handler probes the upstream
	// when neither forwarding nor the connector has talked to it for that
	// long. Default 30 s.
	ProbeInterval time.Duration

	// Logger receives lifecycle lines and throttled warnings; nil discards.
	Logger *slog.Logger
}

// upstream is the parsed URL.
type upstream struct {
	scheme string // "http" or "https"
	addr   string // host:port to dial
	host   string // Host header
	path   string // base path without a trailing '/', maybe ""
	base   string // the URL without a trailing '/'
}

// fill sets the defaults and validates cfg.
func (cfg *Config) fill() (upstream, error) {
	var u upstream
	cfg.URL = strings.TrimSpace(cfg.URL)
	if cfg.URL == "" {
		return u, ErrNoURL
	}
	pu, err := url.Parse(cfg.URL)
	if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" || pu.User != nil || pu.RawQuery != "" || pu.Fragment != "" {
		return u, fmt.Errorf("%w: %q", ErrBadURL, cfg.URL)
	}
	u.scheme, u.host = pu.Scheme, pu.Host
	u.addr = pu.Host
	if pu.Port() == "" {
		port := "80"
		if u.scheme == "https" {
			port = "443"
		}
		u.addr = net.JoinHostPort(pu.Hostname(), port)
	}
	u.path = strings.TrimRight(pu.EscapedPath(), "/")
	u.base = u.scheme + "://" + u.host + u.path
	cfg.LicenseHeader = cmp.Or(strings.TrimSpace(cfg.LicenseHeader), DefaultLicenseHeader)
	if !validHeaderName(cfg.LicenseHeader) {
		return u, fmt.Errorf("%w: %q", ErrBadHeaderName, cfg.LicenseHeader)
	}
	if strings.ContainsAny(cfg.License, "\r\n\x00") {
		return u, fmt.Errorf("relay: LICENSE holds a control character")
	}
	for _, r := range cfg.Routes {
		if (r.Host == "" && r.PathPrefix == "") || (r.PathPrefix != "" && r.PathPrefix[0] != '/') {
			return u, fmt.Errorf("%w: host %q, path prefix %q", ErrBadRoute, r.Host, r.PathPrefix)
		}
	}
	if cfg.Timeout < 0 || cfg.MaxBodyBytes < 0 || cfg.MaxResponseBytes < 0 || cfg.MaxConns < 0 ||
		cfg.IdleConnTimeout < 0 || cfg.BatchRecords < 0 || cfg.FlushInterval < 0 || cfg.QueueRecords < 0 ||
		cfg.SpoolMaxBytes < 0 || cfg.MemoryMaxBytes < 0 || cfg.IngestTimeout < 0 || cfg.ProbeInterval < 0 {
		return u, ErrBadLimit
	}
	cfg.Timeout = cmp.Or(cfg.Timeout, DefaultTimeout)
	cfg.MaxBodyBytes = cmp.Or(cfg.MaxBodyBytes, DefaultMaxBodyBytes)
	cfg.MaxResponseBytes = cmp.Or(cfg.MaxResponseBytes, DefaultMaxResponseBytes)
	cfg.MaxConns = cmp.Or(cfg.MaxConns, DefaultMaxConns)
	cfg.IdleConnTimeout = cmp.Or(cfg.IdleConnTimeout, DefaultIdleConnTimeout)
	cfg.IngestPath = cmp.Or(cfg.IngestPath, DefaultIngestPath)
	if cfg.IngestPath[0] != '/' {
		cfg.IngestPath = "/" + cfg.IngestPath
	}
	cfg.BatchRecords = cmp.Or(cfg.BatchRecords, DefaultBatchRecords)
	if cfg.BatchRecords > MaxBatchRecords {
		return u, fmt.Errorf("relay: BatchRecords %d is over %d", cfg.BatchRecords, MaxBatchRecords)
	}
	cfg.FlushInterval = cmp.Or(cfg.FlushInterval, DefaultFlushInterval)
	cfg.QueueRecords = cmp.Or(cfg.QueueRecords, DefaultQueueRecords)
	cfg.SpoolMaxBytes = cmp.Or(cfg.SpoolMaxBytes, DefaultSpoolMaxBytes)
	cfg.MemoryMaxBytes = cmp.Or(cfg.MemoryMaxBytes, DefaultMemoryMaxBytes)
	cfg.IngestTimeout = cmp.Or(cfg.IngestTimeout, DefaultIngestTimeout)
	cfg.ProbeInterval = cmp.Or(cfg.ProbeInterval, DefaultProbeInterval)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return u, nil
}

// tlsConfig builds the upstream TLS configuration: the system roots, plus
// CAFile and the client certificate when mutual TLS is configured.
func (cfg *Config) tlsConfig() (*tls.Config, error) {
	set := 0
	for _, f := range []string{cfg.CAFile, cfg.ClientCertFile, cfg.ClientKeyFile} {
		if f != "" {
			set++
		}
	}
	t := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.TLS != nil {
		t = cfg.TLS.Clone()
	}
	switch set {
	case 0:
		return t, nil
	case 3:
	default:
		return nil, fmt.Errorf("%w (OCTET_CA_FILE %q, EDGE_CLIENT_CERT_FILE %q, EDGE_CLIENT_KEY_FILE %q)",
			ErrPartialMTLS, cfg.CAFile, cfg.ClientCertFile, cfg.ClientKeyFile)
	}
	pem, err := os.ReadFile(cfg.CAFile)
	if err != nil {
		return nil, fmt.Errorf("relay: reading OCTET_CA_FILE: %w", err)
	}
	pool := t.RootCAs
	if pool == nil {
		if pool, err = x509.SystemCertPool(); err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
	} else {
		pool = pool.Clone()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("relay: OCTET_CA_FILE %s holds no PEM certificate", cfg.CAFile)
	}
	t.RootCAs = pool
	cert, err := tls.LoadX509KeyPair(cfg.ClientCertFile, cfg.ClientKeyFile)
	if err != nil {
		return nil, fmt.Errorf("relay: loading EDGE_CLIENT_CERT_FILE %s and EDGE_CLIENT_KEY_FILE %s: %w",
			cfg.ClientCertFile, cfg.ClientKeyFile, err)
	}
	t.Certificates = []tls.Certificate{cert}
	return t, nil
}

// validHeaderName reports whether s is an RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
