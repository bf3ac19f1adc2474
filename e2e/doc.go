// Package e2e proves that official Unleash SDKs work against brink
// unchanged: the Node server SDK (npm unleash-client), the frontend SDK (npm
// unleash-proxy-client) from Node and inside headless Chromium, each talking
// to a brink binary built from this checkout and serving
// testdata/features.json in offline mode. Every answer an SDK gives is
// compared with brink's own /api/frontend/all answer for the same context.
//
// The package holds tests only. They need Node.js >= 20, the SDKs in
// .cache/sdk and /usr/bin/chromium, all installed by
// scripts/install-sdk-deps.sh; without them the tests skip, unless
// BRINK_REQUIRE_E2E=1 (CI) makes them fail.
package e2e
