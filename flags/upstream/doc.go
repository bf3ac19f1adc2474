// Package upstream connects brink's edge mode to its upstream: an Unleash
// server or another edge (daisy chaining).
//
// Client is the HTTP client of the upstream API: client features (polled
// with ETags, or streamed over server-sent events), token validation,
// registration, and the metrics posts used by the forwarder. Edge is the
// orchestrator built on it: it validates tokens (Validator implements
// flags.TokenValidator), keeps the flag state of every environment fresh
// by polling or streaming, publishes it to a flags.Store, restores and
// saves it through a flags.Persister, and reports per-token refresh status
// for /internal-backstage/tokens.
//
// Nothing here is on the request hot path except Validator.Validate for a
// token the cache does not know, which is a cold path and allocates. Every
// exported method is safe to call from concurrently running goroutines.
package upstream
