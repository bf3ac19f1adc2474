// Package tlsterm terminates TLS for brink and routes connections by SNI
// and ALPN. A Server is a loop.Handler: the event loop accepts, captures
// the TCP signal, and hands the connection's first bytes to the Server,
// which peeks the ClientHello, picks a route, and then takes the socket
// off the loop (loop.Conn.Handoff) to run the handshake with the standard
// library's crypto/tls on a bounded pool of handshake workers.
//
// # Data path and which way bytes flow
//
//	loop goroutine                       handshake worker      service goroutine
//	accept, TCP signal (loop.Capturer)
//	OnData: peek ClientHello (≤16 KiB)
//	  parse (proto/tlshello): SNI, ALPN,
//	  JA4, JA3, HelloTime
//	  route by SNI+ALPN ─── unknown SNI ─► alert 112, close (on the loop)
//	  Handoff: dup the socket, copy the
//	  bytes received, loop forgets it ──►  the dup as a net.Conn + replay
//	                                       tls.Server handshake ─► Service.ServeConn
//	                                       (or passthrough: dial backend, copy both ways)
//
// Bytes flow from the loop to a worker exactly once: the ClientHello bytes
// the loop already read, copied and replayed at the front of the
// connection. Then the socket itself moves to Go's netpoller and nothing
// flows back to the loop. The reason: crypto/tls (and fasthttp's
// ServeConn) want a blocking net.Conn; feeding one from the loop would
// cost a copy and two goroutine hops per TLS record for the life of the
// connection, with nothing gained once the signal is captured, the hello
// peeked and the route picked. The loop keeps what it is good at (accept,
// signal capture, bounding slow and bogus clients before any handshake
// work: read-header timeout, 16 KiB bound, non-TLS bytes, unknown names),
// and crypto/tls stays unforked (TLS 1.2 and 1.3, X25519MLKEM768 by
// default, session tickets).
//
// The handed-off descriptor is used as it is: Handoff's *os.File is
// non-blocking, so it is already on Go's netpoller, and a small net.Conn
// over it (the loop's addresses, net.TCPConn-shaped errors) replaces
// net.FileConn, which would dup and register it a second time (about ten
// system calls per connection); it keeps Go's TCP keepalive, set per
// connection unless the listener was prepared with PrepareListener, whose
// setting accepted sockets inherit. Services run on reused goroutines, so a
// connection does not pay for growing a fresh goroutine stack through
// fasthttp and crypto/tls.
//
// # Handshakes
//
// Handshakes run on Config.MaxHandshakes worker goroutines (default
// 4×GOMAXPROCS: a handshake waits a round trip for the client between its
// two CPU-heavy halves) fed by a queue of Config.HandshakeQueue
// connections. When workers and queue are full, a new connection gets an
// internal_error alert on the loop and is closed, counted in
// brink_tls_hello_rejects_total{reason="busy"}. A handshake is bounded by
// Config.HandshakeTimeout, queueing included.
//
// The handshake latency signal comes from a wrapper under tls.Server: the
// time of the write that carries the server's first flight (ServerHello
// and the rest, one write in crypto/tls) and the time the first read after
// it returned client data (the client's Finished in TLS 1.3, its key
// exchange in TLS 1.2). Both are CLOCK_MONOTONIC nanoseconds, the TCP
// signal's clock, so they can be compared with the kernel's SYN and ACK
// times.
//
// # Certificates
//
// A CertStore holds several certificate/key file pairs; the handshake
// picks the pair whose leaf names (exact or one-label wildcard SANs) match
// the SNI, else the first pair. On handshakes that use a pair, and at most
// once per second per pair, the store stats both files; when either file's
// modification time, size or inode changed it loads the pair again and
// swaps it in atomically. Writing new files next to the live ones and
// renaming them into place is therefore safe; a half-written or mismatched
// pair (for example between the two renames) keeps the old certificate,
// logs why once per change, counts brink_tls_cert_reloads_total{result=
// "error"}, and is tried again at the next check. Only one handshake per
// pair does the check; the others use the current certificate meanwhile,
// so no handshake fails or waits during a reload.
//
// # Routes
//
// Config.Routes map host names (exact, or "*.example.com" for one label)
// and optionally an ALPN protocol to a Service by name, or to a
// passthrough backend (raw TCP: the ClientHello and everything after it go
// to the backend untouched). Built in: Config.EngineHost routes to the
// service "api", and "*.t.<EngineHost>" is reserved for tunnels (service
// "tunnel"; until one is registered with SetService it answers HTTP 503
// "tunnel engine not available"). A ClientHello whose SNI no route
// matches goes to Config.Default, else gets an unrecognized_name alert
// (112) from the loop; one without SNI goes to Config.Default, else to the
// engine host's route, else gets the alert. Routing happens before any
// handshake work, so a refused name costs one parse and one 7-byte write.
//
// # Limits and shutdown
//
// The loop bounds what comes before the handoff (its MaxConns, and its
// ReadHeaderTimeout for the ClientHello); the Server bounds what comes
// after: Config.MaxConns handed-off connections, the handshake pool and
// queue, Config.HandshakeTimeout. After the handshake a Service's own
// deadlines apply (HTTPService: 15 s read, 90 s idle); a passthrough
// relay lasts until either side closes. Shutdown refuses new ClientHellos
// (user_canceled alert), closes HTTP connections waiting for a request,
// lets requests in progress finish with Connection: close, and at the end
// of its grace closes what is left.
//
// # Metrics
//
//	brink_tls_handshakes_total{version,cipher,resumed}
//	brink_tls_handshake_failures_total{reason}   timeout, client_closed, client_alert, no_alpn, ...
//	brink_tls_handshake_duration_seconds          histogram, worker time of a handshake
//	brink_tls_hello_rejects_total{reason}         not_tls, too_large, malformed, unknown_sni, busy, max_connections, shutdown
//	brink_tls_routes_total{route}                 host pattern (+ALPN), or "default"
//	brink_tls_cert_reloads_total{result}          ok, error
//	brink_tls_connections                         handed-off connections open
//	brink_tls_passthrough_dial_errors_total, brink_tls_service_panics_total
//
// # Concurrency, allocation and ownership
//
// The loop.Handler methods run on the loop goroutines and never block;
// parsing the ClientHello allocates nothing (a pooled tlshello.Hello), a
// handed-off connection allocates its Conn, the replay copy and what
// crypto/tls allocates. The Conn given to a Service belongs to the Service
// until ServeConn returns; the Server closes it then. SetService and
// Shutdown are safe from any goroutine.
package tlsterm
