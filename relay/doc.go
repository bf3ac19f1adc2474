// Package relay is brink's Octet relay, the "harvester + connector" of the
// seed: it forwards the requests of its routes to the upstream API
// (OCTET_URL) with the connection's signal attached, ships every
// connection's signal record to the upstream's ingest endpoint in
// compressed batches, and answers GET /health.
//
// cmd wires it: New, NewConnector and NewHealth take one Config (and
// HealthConfig); cmd routes a request to Relay.Handle when Relay.Match
// says so, serves Health.Handle at /health, calls Connector.Add when a
// connection's signal is complete (for every connection, routed or not)
// and Connector.Close on SIGTERM.
//
// # Forwarding
//
// A route is a hostname (compared case-insensitively, without port) and/or
// a path prefix (matching at a '/' boundary). A matching request goes to
// URL's scheme and host, at URL's path followed by the request's path as
// sent (less the prefix with StripPrefix) and query, over a pool of
// keep-alive connections (fasthttp.HostClient; HTTPS with the system roots,
// plus mutual TLS when CAFile, ClientCertFile and ClientKeyFile are all
// set). Request bodies stream to the upstream when the server streams them
// (fasthttp.Server.StreamRequestBody) and are bounded by MaxBodyBytes
// either way; answers are buffered (bounded by MaxResponseBytes) unless
// StreamResponses is set.
//
// Headers, in order:
//
//   - Hop-by-hop headers are removed in both directions: Connection and
//     every header it names, Keep-Alive, Proxy-Connection,
//     Proxy-Authenticate, Proxy-Authorization, TE, Trailer and Upgrade
//     (so WebSocket upgrades are not relayed). fasthttp frames the bodies.
//
//   - Headers only the relay may set are removed from the client's
//     request: X-Brink-Signal, the licence header, X-Forwarded-Proto,
//     X-Forwarded-Host, Forwarded, X-Real-IP and, unless
//     TrustForwardedFor, X-Forwarded-For. A browser cannot forge its
//     signal, its licence or its address.
//
//   - X-Forwarded-For: the connection's peer IP. With TrustForwardedFor
//     it is appended to the client's chain ("a, b, <peer>"); use that only
//     behind a front that sets the header itself.
//
//   - X-Forwarded-Proto: "https" when the client's connection is TLS,
//     else "http". X-Forwarded-Host: the client's Host header.
//
//   - The licence header (LicenseHeader, default "X-License-Key") carries
//     LICENSE; Host is the upstream's.
//
//   - X-Brink-Signal carries the connection's signal, when the connection
//     has one (connsig.Carrier):
//
//     X-Brink-Signal: v1 <base64url, unpadded, of connsig's AppendJSON>
//
//     "v1" versions the envelope (a space, then the encoding); the JSON
//     inside carries its own "version" (connsig.JSONVersion) and the
//     fields of connsig's package doc. base64url keeps the value a plain
//     header token whatever the JSON holds (a TLS SNI, for one), at a
//     third more bytes: a TLS connection's signal is about 850 bytes of
//     header (620 bytes of JSON). To read it:
//     split at the first space, check "v1", base64url-decode (RFC 4648 §5,
//     no padding), parse JSON. A connection without a signal sends no
//     X-Brink-Signal at all. The encoded value is made once per
//     connection, not per request: 256 slots, picked by the address of
//     the connection's signal, keep a copy of the signal and its header
//     (about 135 KB of copies plus the headers), and a slot's header is
//     used only while the signal still equals that copy field for field.
//
// Errors answer a JSON body {"error":"..."}: 413 "request body too large"
// (a Content-Length over MaxBodyBytes, or a streamed body that grows past
// it); 502 "upstream unreachable" (refused, reset, TLS failure, closed
// before answering) or "upstream answer too large"; 504 "upstream timed
// out" (no complete answer within Timeout, dialling included). Only
// idempotent methods (GET, HEAD, OPTIONS, PUT, DELETE) with a buffered
// body are retried, once, after a connection error; never after a timeout.
// Failures are counted and logged at most once a second.
//
// A path with a dot segment ("/a/../b", also percent-encoded: "%2e%2e")
// matches no route, and Handle answers it 400 {"error":"path with a dot
// segment"}: the path is forwarded as sent under URL's path, so an
// upstream that resolves dot segments would serve one outside it.
// Browsers resolve them before sending.
//
// In brink, the plain-HTTP event loop (for an http:// URL) and the TLS
// services (http1.Server.ServeConn) forward as bytes through
// AppendRequestHead; HTTP/1.0 requests go through Handle.
//
// A front that forwards requests as bytes itself (a proxy on the event
// loop) uses AppendRequestHead instead of Handle: from the head the client
// sent (fasthttp has parsed it) it appends the upstream request's head
// under the same policy: the request line and Host made as above, the
// client's fields copied as sent (names keep their case) less those
// removed above, Host, Content-Length and Transfer-Encoding, then the
// relay's own fields and a Content-Length for the buffered body. A folded
// line is joined to its field with a space, as fasthttp reads it; a line
// without a colon, with a bad name or a bare CR is never forwarded. It
// differs from Handle's fasthttp client in four details: no User-Agent
// when the client sent none (fasthttp's says "brink-relay"); no default
// Content-Type for a body without one; Content-Length only with a body or
// for POST, PUT and PATCH (fasthttp sends "Content-Length: 0" for every
// method but GET and HEAD); and the request line always says HTTP/1.1.
// AppendErrorAnswer writes the error answers above as bytes;
// Done records an outcome (counters, reachability, throttled warnings)
// and Retried a retry, as Handle does; UpstreamAddr, UpstreamTLS,
// UpstreamTLSConfig, MaxBodyBytes, Timeout, IdleConnTimeout and MaxConns
// give the front the filled configuration.
//
// # Signal records and batches
//
// Connector.Add copies the signal, the peer address and the time into an
// in-memory queue of at most QueueRecords records (full: the record is
// dropped and counted). One goroutine turns the queue into batches of at
// most BatchRecords records, at least every FlushInterval, and POSTs each
// to URL+IngestPath (default "/ingest/signals"):
//
//	POST /ingest/signals
//	Content-Type: application/x-ndjson
//	Content-Encoding: gzip
//	Idempotency-Key: <instance id>.<process start, base-36 ns>-<batch sequence number>
//	X-Brink-Records: <records in the batch>
//	X-License-Key: <LICENSE>
//
//	{"at":"2026-11-23T01:02:03.000004Z","remote":"203.0.113.7:51234","signal":{...connsig JSON...}}
//	... one line per record
//
// # Delivery: at least once
//
// A batch leaves memory or the spool only after a 2xx answer. A 4xx other
// than 408 and 429 drops it (counted as "rejected", logged with the
// answer); a 408, 429, 5xx or a network failure keeps it and retries with
// backoff (250 ms doubling to 30 s, jittered). The Idempotency-Key is
// fixed when the batch is made and sent unchanged on every retry, also by
// a later process, so the upstream can drop a batch it already stored
// (an answer lost in transit is the one source of duplicates). Batches are
// sent in order: once one waits, every newer one queues behind it.
//
// While the upstream is down, batches go to the spool. With SpoolDir it is
// a folder of one file per batch, each written to a temporary file
// (".<name>.*.tmp"), synced and renamed into place:
//
//	<SpoolDir>/<seq, 20 digits>-<records>-<Idempotency-Key>.ndjson.gz
//
// holding the exact body to POST. The sequence orders the files (a new
// process continues after the highest one it finds, and sends what is
// there first); the names alone restore the key and the record count.
// Files of other names are left alone; leftover temporary files are
// removed at start; a batch file that cannot be read is skipped (counted
// as "spool_error") and left in place. A SpoolDir belongs to one process. SpoolMaxBytes (default 256 MiB) bounds the folder:
// past it the oldest batches are deleted and their records counted
// ("spool_full"). Without SpoolDir the same queue lives in memory, bounded
// by MemoryMaxBytes ("memory_full"), and dies with the process.
//
// Close(ctx), for SIGTERM, stops Add, sends the queued records while ctx
// leaves time (keeping a quarter of it, at most a second, to spool) and
// spools the rest; with a SpoolDir nothing is lost short of the cap. A
// post in flight when Close is called is waited for (at most
// IngestTimeout, default 10 s): keep it below the grace period.
// Without one, what is still unsent when ctx ends is dropped
// ("shutdown") and Close returns ErrUnsent.
//
// # Health
//
// Health.Handle answers {"ok":true,"version":...,"uptimeSeconds":...,
// "capture":"ebpf|fallback|off","upstream":{"url":...,"reachable":...,
// "lastError":...,"checkedAt":...},"spool":{"files":...,"bytes":...}}.
// ok stays true while the process serves: the upstream's state is
// reported, not fatal, because brink keeps harvesting and spooling while
// the upstream is away and restarting brink would not bring it back.
// reachable is the newest outcome of forwarded requests, batch posts and
// a probe (HEAD of URL, bounded by 5 s) made when neither talked to the
// upstream for ProbeInterval.
//
// # Metrics
//
//	brink_relay_requests_total{result="ok|too_large|bad_gateway|timeout|client_closed"}
//	brink_relay_retries_total
//	brink_relay_records_accepted_total, brink_relay_records_sent_total
//	brink_relay_records_dropped_total{reason="queue_full|closed|rejected|spool_full|memory_full|spool_error|shutdown"}
//	brink_relay_batches_sent_total, brink_relay_batches_failed_total
//	brink_relay_spool_bytes, brink_relay_spool_files, brink_relay_upstream_up
//
// # Contracts
//
// Allocation: Match, and Handle with buffered answers, allocate nothing in
// steady state; AppendRequestHead and AppendErrorAnswer neither, once dst
// has room, nor Done but for a throttled failure message; Add allocates only a new queue chunk (one per BatchRecords
// records) when none is free. Concurrency: every exported method is safe
// to call from concurrently running goroutines. Buffers: Add copies the
// signal; the caller may reuse it at once.
package relay
