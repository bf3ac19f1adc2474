// Package e2e proves that official Unleash SDKs work against brink
// unchanged, and that brink's edge mode works against real parts.
//
// Offline mode: the Node server SDK (npm unleash-client), the frontend SDK
// (npm unleash-proxy-client) from Node and inside headless Chromium, each
// talking to a brink binary built from this checkout and serving
// testdata/features.json. Every answer an SDK gives is compared with
// brink's own /api/frontend/all answer for the same context. The Node SDK
// also runs in streaming and delta mode (streaming_sdk_test.go): file
// changes arrive as unleash-updated events or delta answers, and the SDK
// resyncs after brink restarts.
//
// Edge mode (edge*_test.go): brink edge against a real Unleash 8 server
// with PostgreSQL and Redis (internal/testenv): flags and changes flow
// through, dynamic tokens, SDK parity with Unleash itself, metrics arriving
// in Unleash, brink → brink → Unleash chains, an upstream killed mid-run,
// restarts from the backup folder and from Redis, Redis down at start.
//
// TLS (tls_test.go): brink terminating TLS in the Unleash Edge (--tls-*) and
// Octet (EDGE_TLS_*) forms against Go's crypto/tls, curl and openssl
// s_client (TLS 1.2 and 1.3, with and without SNI and ALPN), a flag
// constrained on a TLS property, SNI routes from YAML (passthrough, the
// tunnel space, unknown names), certificate renames under load, the 308
// redirect listener and the Prometheus listener.
//
// Relay (relay*_test.go): brink relay in front of a recording HTTPS upstream
// that requires a client certificate: forwarded headers and the signal
// (never the client's forged one), ingest batches surviving an upstream
// outage and a brink restart through the spool, bad input, and headless
// Chromium loading a page through brink whose JA4 reaches the upstream.
//
// The package holds tests only. They need Node.js >= 20, the SDKs in
// .cache/sdk and /usr/bin/chromium (scripts/install-sdk-deps.sh), and
// Redis, PostgreSQL, Node 22 and unleash-server (scripts/install-edge-deps.sh);
// without them the tests skip, unless BRINK_REQUIRE_E2E=1 (CI) makes them
// fail.
package e2e
