package tlsterm

import (
	"crypto/tls"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/VictoriaMetrics/metrics"
)

// Metrics, summed over the Servers of the process.
var (
	openConns = new(atomic.Int64)
	_         = metrics.NewGauge(`brink_tls_connections`, func() float64 { return float64(openConns.Load()) })

	handshakeDuration = metrics.NewHistogram(`brink_tls_handshake_duration_seconds`)

	rejectNotTLS    = metrics.NewCounter(`brink_tls_hello_rejects_total{reason="not_tls"}`)
	rejectTooLarge  = metrics.NewCounter(`brink_tls_hello_rejects_total{reason="too_large"}`)
	rejectMalformed = metrics.NewCounter(`brink_tls_hello_rejects_total{reason="malformed"}`)
	rejectUnknown   = metrics.NewCounter(`brink_tls_hello_rejects_total{reason="unknown_sni"}`)
	rejectBusy      = metrics.NewCounter(`brink_tls_hello_rejects_total{reason="busy"}`)
	rejectMaxConns  = metrics.NewCounter(`brink_tls_hello_rejects_total{reason="max_connections"}`)
	rejectShutdown  = metrics.NewCounter(`brink_tls_hello_rejects_total{reason="shutdown"}`)
	rejectHandoff   = metrics.NewCounter(`brink_tls_hello_rejects_total{reason="handoff"}`)

	failTimeout  = metrics.NewCounter(`brink_tls_handshake_failures_total{reason="timeout"}`)
	failClosed   = metrics.NewCounter(`brink_tls_handshake_failures_total{reason="client_closed"}`)
	failAlert    = metrics.NewCounter(`brink_tls_handshake_failures_total{reason="client_alert"}`)
	failNoALPN   = metrics.NewCounter(`brink_tls_handshake_failures_total{reason="no_alpn"}`)
	failVersion  = metrics.NewCounter(`brink_tls_handshake_failures_total{reason="no_common_version_or_cipher"}`)
	failProtocol = metrics.NewCounter(`brink_tls_handshake_failures_total{reason="protocol"}`)
	failQueue    = metrics.NewCounter(`brink_tls_handshake_failures_total{reason="queue_timeout"}`)

	reloadOK    = metrics.NewCounter(`brink_tls_cert_reloads_total{result="ok"}`)
	reloadError = metrics.NewCounter(`brink_tls_cert_reloads_total{result="error"}`)

	accepted             = metrics.NewCounter(`brink_tls_accepted_total`)
	acceptRejectMaxConns = metrics.NewCounter(`brink_tls_accept_rejects_total{reason="max_connections"}`)
	captureErrors        = metrics.NewCounter(`brink_tls_capture_errors_total`)

	passthroughDialErrors = metrics.NewCounter(`brink_tls_passthrough_dial_errors_total`)
	servicePanics         = metrics.NewCounter(`brink_tls_service_panics_total`)
)

// handshakeKey labels brink_tls_handshakes_total.
type handshakeKey struct {
	version, cipher uint16
	resumed         bool
}

// handshakeCounters caches a counter per label set, so the handshake path
// builds a metric name only the first time a combination is seen.
var handshakeCounters sync.Map // handshakeKey → *metrics.Counter

func countHandshake(cs *tls.ConnectionState) {
	k := handshakeKey{cs.Version, cs.CipherSuite, cs.DidResume}
	if c, ok := handshakeCounters.Load(k); ok {
		c.(*metrics.Counter).Inc()
		return
	}
	name := `brink_tls_handshakes_total{version="` + versionName(cs.Version) +
		`",cipher="` + tls.CipherSuiteName(cs.CipherSuite) +
		`",resumed="` + strconv.FormatBool(cs.DidResume) + `"}`
	c, _ := handshakeCounters.LoadOrStore(k, metrics.GetOrCreateCounter(name))
	c.(*metrics.Counter).Inc()
}

func versionName(v uint16) string {
	switch v {
	case tls.VersionTLS13:
		return "1.3"
	case tls.VersionTLS12:
		return "1.2"
	case tls.VersionTLS11:
		return "1.1"
	case tls.VersionTLS10:
		return "1.0"
	}
	return "0x" + strconv.FormatUint(uint64(v), 16)
}

// routeCounter returns the counter of brink_tls_routes_total for a route
// label; called when the routing table is built.
func routeCounter(label string) *metrics.Counter {
	return metrics.GetOrCreateCounter(`brink_tls_routes_total{route="` + label + `"}`)
}
