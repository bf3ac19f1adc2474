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
// The package holds tests only. They need Node.js >= 20, the SDKs in
// .cache/sdk and /usr/bin/chromium (scripts/install-sdk-deps.sh), and
// Redis, PostgreSQL, Node 22 and unleash-server (scripts/install-edge-deps.sh);
// without them the tests skip, unless BRINK_REQUIRE_E2E=1 (CI) makes them
// fail.
package e2e
