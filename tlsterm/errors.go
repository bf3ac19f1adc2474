package tlsterm

import "errors"

// Sentinel errors of the tlsterm package.
var (
	// ErrNoCerts is returned by New without a certificate pair.
	ErrNoCerts = errors.New("tlsterm: no certificate pair configured")
	// ErrShutdown is returned by Shutdown when called twice.
	ErrShutdown = errors.New("tlsterm: server already shut down")
)
