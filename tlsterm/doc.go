// Package tlsterm terminates TLS for brink and routes connections by SNI
// and ALPN. It accepts in one of two modes, chosen per listener
// (tls.accept in cmd/brink):
//
//   - netpoll (the default): an Acceptor accepts with Go's net.Listener and
//     takes each connection, on one reused goroutine, through the TCP
//     signal capture, the ClientHello, the route, the handshake and the
//     service to the end.
//   - loop: a Server is a loop.Handler; the gnet event loop accepts,
//     captures the TCP signal and hands the connection's first bytes to the
//     Server, which peeks the ClientHello, picks a route, and then takes the
//     socket off the loop (loop.Conn.Handoff) to run the handshake on a
//     bounded pool of handshake workers.
//
// Both make the same decisions with the same code (decide, admit,
// terminate, relay): the ClientHello is parsed by proto/tlshello (≤16 KiB,
// within the read-header timeout), routed by SNI+ALPN before any handshake
// work, refused with the same alerts, limits and counters, and terminated
// by the standard library's crypto/tls, unforked (TLS 1.2 and 1.3,
// X25519MLKEM768 by default, session tickets).
//
// # Data path, netpoll mode
//
//	accept goroutine          one pooled goroutine per connection
//	net.Listener.Accept ───►  TCP signal (connsig.Capturer, CaptureAddr by address)
//	(MaxConns)                read the ClientHello (≤16 KiB, read-header timeout)
//	                          parse (proto/tlshello): SNI, ALPN, JA4, JA3, HelloTime
//	                          route by SNI+ALPN ─── unknown SNI ─► alert 112, close
//	                          tls.Server over the socket + replay ─► Service.ServeConn
//	                          (or passthrough: dial backend, copy both ways)
//
// # Data path, loop mode
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
// In loop mode bytes flow from the loop to a worker exactly once: the
// ClientHello bytes the loop already read, copied and replayed at the front
// of the connection. Then the socket itself moves to Go's netpoller and
// nothing flows back to the loop. crypto/tls (and fasthttp's ServeConn)
// want a blocking net.Conn; feeding one from the loop would cost a copy and
// two goroutine hops per TLS record for the life of the connection. The
// handed-off descriptor is used as it is (a sockConn: Handoff's *os.File is
// non-blocking, so it is already on Go's netpoller), not through
// net.FileConn, which would dup and register it a second time.
//
// # Why netpoll is the default
//
// A TLS connection lives on Go's netpoller after its ClientHello in both
// modes; the loop mode adds a second poller in front of it. On a busy
// core that costs: gnet's blocking epoll_wait holds the only P beside
// Go's netpoller (about five context switches per handshake against 1.7
// for a plain crypto/tls server), plus the loop's own accept, read, dup
// and close system calls, the hand-off and the worker queue hop. Measured
// with bench/tls/handshake-cpu.sh (server CPU per handshake, one core,
// interleaved with nginx 1.22 terminating the same certificate and a bare
// crypto/tls server, 8 rounds each; bench/RESULTS-tls.md, 2026-11-23
// "accept modes"), as handshakes per CPU-second relative to nginx's,
// median of the per-round ratios (range without the extreme rounds):
//
//	                           netpoll             loop                bare crypto/tls
//	full TLS 1.3, ECDSA P-256  1.13× (1.08–1.22)   0.85× (0.78–0.89)   1.20×
//	full TLS 1.2, ECDSA P-256  0.90× (0.87–1.00)   0.70× (0.64–0.77)   0.96×
//	resumed TLS 1.3 (tickets)  1.40× (1.13–1.52)   0.86× (0.65–1.01)   1.32×
//	full TLS 1.3, RSA 2048     0.51× (0.49–0.56)   0.39× (0.37–0.40)   0.51×
//
// The netpoll mode spends 251 µs per full ECDSA TLS 1.3 handshake (median
// of 8 rounds) against 351 for the loop, 299 for nginx and 245 for the
// bare server: what brink adds to crypto/tls (capture, ClientHello parse,
// JA4/JA3, routing, the signal) is within the noise there, and 15 µs on
// TLS 1.2, where OpenSSL's own path is cheaper. The netpoll default of
// 64×GOMAXPROCS handshake slots matters: with 4×GOMAXPROCS (the loop's
// worker count) the core idles while every slot waits for busy clients
// (1.09× instead of 1.13×, and twice the spread).
//
// RSA 2048 stays at half of nginx's rate in every Go server: the
// private-key operation itself is the gap: one RSA 2048 signature costs
// Go 831 µs on this CPU and OpenSSL 250 µs (BenchmarkSign against
// openssl speed), more in Go than nginx's whole RSA handshake (546 µs), so
// parity would take cgo or a crypto fork, both ruled out. ECDSA P-256
// certificates (what certbot and Caddy issue by default) do not have the
// gap, and resumed handshakes skip the signature.
//
// The loop mode stays for what the loop is good at: bounding slow and
// bogus clients before a goroutine exists for them (the loop holds a
// connection in a few hundred bytes until its ClientHello is complete; the
// netpoll mode parks a goroutine and a 16 KiB read buffer), and spreading
// accepts over several loops, each with its own SO_REUSEPORT listener
// (--loops, --reuseport; netpoll listens once, with SO_REUSEPORT when
// asked).
//
// Keepalive: sockets accepted from a listener prepared with
// PrepareListener inherit Go's TCP keepalive; otherwise the Server sets it
// per connection (checked once). Services run on reused goroutines, so a
// connection does not pay for growing a fresh goroutine stack through
// fasthttp and crypto/tls; in netpoll mode the goroutine that read the
// ClientHello serves the connection to its end.
//
// # Handshakes
//
// At most Config.MaxHandshakes handshakes run at once (default
// 4×GOMAXPROCS: a handshake waits a round trip for the client between its
// two CPU-heavy halves), and Config.HandshakeQueue more wait: in loop mode
// as worker goroutines fed by a queue, in netpoll mode as slots the
// connection's own goroutine takes. When both are full, a new connection
// gets an internal_error alert and is closed, counted in
// brink_tls_hello_rejects_total{reason="busy"}. A handshake is bounded by
// Config.HandshakeTimeout, waiting included.
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
// (112); one without SNI goes to Config.Default, else to the
// engine host's route, else gets the alert. Routing happens before any
// handshake work, so a refused name costs one parse and one 7-byte write.
//
// # Limits and shutdown
//
// The loop (or the Acceptor: AcceptConfig) bounds what comes before the
// ClientHello's verdict (MaxConns, all connections open; ReadHeaderTimeout
// for the ClientHello); the Server bounds what comes after:
// Config.MaxConns connections past their ClientHello, the handshake slots
// and queue, Config.HandshakeTimeout. After the handshake a Service's own
// deadlines apply (HTTPService: 15 s read, 90 s idle); a passthrough
// relay lasts until either side closes. Shutdown refuses new ClientHellos
// (user_canceled alert), closes HTTP connections waiting for a request,
// lets requests in progress finish with Connection: close, and at the end
// of its grace closes what is left. The Acceptor's Run, when its context
// ends, stops listening, calls OnShutdown and closes the connections still
// sending a ClientHello (as the loop's drain refuses them); call Shutdown
// after it returns, as after the loop's Run.
//
// # Metrics
//
//	brink_tls_handshakes_total{version,cipher,resumed}
//	brink_tls_handshake_failures_total{reason}   timeout, client_closed, client_alert, no_alpn, ...
//	brink_tls_handshake_duration_seconds          histogram, worker time of a handshake
//	brink_tls_hello_rejects_total{reason}         not_tls, too_large, malformed, unknown_sni, busy, max_connections, shutdown
//	brink_tls_routes_total{route}                 host pattern (+ALPN), or "default"
//	brink_tls_cert_reloads_total{result}          ok, error
//	brink_tls_connections                         connections past their ClientHello, open
//	brink_tls_accepted_total, brink_tls_accept_rejects_total{reason="max_connections"},
//	brink_tls_capture_errors_total                netpoll mode's accept (the loop counts its own)
//	brink_tls_passthrough_dial_errors_total, brink_tls_service_panics_total
//
// # Concurrency, allocation and ownership
//
// The loop.Handler methods run on the loop goroutines and never block;
// parsing and routing the ClientHello allocates nothing (a pooled
// tlshello.Hello; in netpoll mode a pooled read buffer too); an admitted
// connection allocates its Conn, the replay copy and what crypto/tls
// allocates. The Conn given to a Service belongs to the Service
// until ServeConn returns; the Server closes it then. SetService and
// Shutdown are safe from any goroutine.
package tlsterm
