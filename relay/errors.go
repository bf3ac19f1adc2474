package relay

import "errors"

// Sentinel errors. Configuration errors wrap them with the offending input;
// the request path compares them with errors.Is and never wraps them.
var (
	// ErrNoURL means Config.URL (OCTET_URL) is empty.
	ErrNoURL = errors.New("relay: OCTET_URL is empty")
	// ErrBadURL means Config.URL is not an http:// or https:// URL with a host.
	ErrBadURL = errors.New("relay: OCTET_URL is not an http:// or https:// URL with a host")
	// ErrPartialMTLS means some but not all of OCTET_CA_FILE,
	// EDGE_CLIENT_CERT_FILE and EDGE_CLIENT_KEY_FILE are set.
	ErrPartialMTLS = errors.New("relay: mutual TLS needs all of OCTET_CA_FILE, EDGE_CLIENT_CERT_FILE and EDGE_CLIENT_KEY_FILE, or none")
	// ErrBadRoute means a Route has neither a host nor a path prefix, or a
	// path prefix that does not start with '/'.
	ErrBadRoute = errors.New("relay: a route needs a host and/or a path prefix starting with '/'")
	// ErrBadLimit means a size or time limit is negative.
	ErrBadLimit = errors.New("relay: limits must not be negative")
	// ErrBadHeaderName means LicenseHeader is not a valid header name.
	ErrBadHeaderName = errors.New("relay: the licence header name is not a valid HTTP header name")
	// ErrClosed is returned by Connector.Close when called twice.
	ErrClosed = errors.New("relay: connector closed")
	// ErrUnsent is returned by Connector.Close when records could be
	// neither sent nor spooled before its context ended; they are counted
	// as dropped (reason "shutdown").
	ErrUnsent = errors.New("relay: records left unsent at shutdown")
)
