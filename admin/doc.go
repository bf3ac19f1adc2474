// Package admin serves the operator's side of brink: Prometheus metrics
// and, when asked for, Go's pprof profiles, on listeners of their own that
// never carry user traffic.
//
// # Listeners
//
// A Server has at most two listeners. The Prometheus listener
// (Config.PrometheusAddr; the configuration's default is
// DefaultPrometheusAddr, 127.0.0.1:9090) answers GET /metrics with every
// series of the default VictoriaMetrics set, process metrics included. The
// admin listener (Config.PprofAddr) answers /metrics too and, only when
// Config.Pprof is true, /debug/pprof/. When PprofAddr is empty the pprof
// handlers go on the Prometheus listener instead, so one port is enough
// for both. The pprof handlers are registered on the Server's private mux,
// never on http.DefaultServeMux, so nothing else in the process can expose
// them by accident.
//
// # Access
//
// A listener that binds beyond loopback (a wildcard such as ":9090",
// "0.0.0.0" or "[::]", a non-loopback IP, or a host name that resolves to
// any non-loopback address) needs Config.BearerToken: New refuses to start
// without one and says which address was the reason. With a token set,
// every request on either listener must carry "Authorization: Bearer
// <token>"; anything else gets 401 with a WWW-Authenticate challenge. The
// comparison runs in constant time over SHA-256 digests, so neither the
// token's bytes nor its length leak through timing.
//
// # Concurrency and cost
//
// This is a cold path served by net/http: a scrape renders the metrics set
// into a fresh buffer, and nothing here is shared with the request path
// beyond the metrics themselves. A Server's methods are safe to call from
// several goroutines.
package admin
