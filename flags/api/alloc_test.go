//go:build !race

package api

import "testing"

// TestAllocsPerRequest proves the hot paths allocate nothing per request.
func TestAllocsPerRequest(t *testing.T) {
	h := newTestServer(t, Config{}).h
	tests := []struct {
		name    string
		uris    []string
		headers []string
		status  int
	}{
		{"GET /api/frontend", userURIs("/api/frontend", 64), []string{"Authorization", tokFront}, 200},
		{"GET /api/proxy/all", userURIs("/api/proxy/all", 64), []string{"Authorization", tokFront}, 200},
		{"GET /api/frontend offline token", userURIs("/api/frontend", 64), []string{"Authorization", tokPlainFront}, 200},
		{"GET /api/frontend gzip", userURIs("/api/frontend", 64), []string{"Authorization", tokFront, "Accept-Encoding", "gzip"}, 200},
		{"GET /api/frontend zstd", userURIs("/api/frontend", 64), []string{"Authorization", tokFront, "Accept-Encoding", "zstd"}, 200},
		{"GET /api/frontend/features/users", userURIs("/api/frontend/features/users", 64), []string{"Authorization", tokFront}, 200},
		{"GET /api/frontend with Origin", userURIs("/api/frontend", 64), []string{"Authorization", tokFront, "Origin", "https://app.example"}, 200},
		{"GET /api/client/features", []string{"/api/client/features"}, []string{"Authorization", tokClient}, 200},
		{"GET /api/client/features gzip", []string{"/api/client/features"}, []string{"Authorization", tokClient, "Accept-Encoding", "gzip"}, 200},
		{"GET /api/client/features namePrefix", []string{"/api/client/features?namePrefix=prefix."}, []string{"Authorization", tokClient}, 200},
		{"GET /api/client/features/alpha", []string{"/api/client/features/alpha"}, []string{"Authorization", tokClient}, 200},
		{"GET /internal-backstage/health", []string{"/internal-backstage/health"}, nil, 200},
		{"GET /api/frontend unknown token", []string{"/api/frontend"}, []string{"Authorization", "nope"}, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run, ctx := handlerLoop(t, h, tt.uris, tt.headers...)
			for range 2 * len(tt.uris) {
				run()
			}
			if got := ctx.Response.StatusCode(); got != tt.status {
				t.Fatalf("status %d, want %d: %s", got, tt.status, ctx.Response.Body())
			}
			if n := minAllocs(run); n != 0 {
				t.Errorf("%s: %v allocations per request, want 0", tt.name, n)
			}
		})
	}
	t.Run("known tokens with a Validator", func(t *testing.T) {
		tokens := testTokens()
		hv := newTestServer(t, Config{Tokens: tokens, Validator: &fakeValidator{cache: tokens}}).h
		for _, tc := range []struct{ uri, token string }{
			{"/api/frontend?userId=u1", tokFront},
			{"/api/client/features", tokClient},
		} {
			run, ctx := handlerLoop(t, hv, []string{tc.uri}, "Authorization", tc.token)
			run()
			if ctx.Response.StatusCode() != 200 {
				t.Fatalf("%s: status %d", tc.uri, ctx.Response.StatusCode())
			}
			if n := minAllocs(run); n != 0 {
				t.Errorf("%s with a Validator: %v allocations per request, want 0", tc.uri, n)
			}
		}
	})
	t.Run("304", func(t *testing.T) {
		for _, tc := range []struct{ uri, token string }{
			{"/api/frontend?userId=u1", tokFront},
			{"/api/client/features", tokClient},
		} {
			run, ctx := handlerLoop(t, h, []string{tc.uri}, "Authorization", tc.token)
			run()
			etag := string(ctx.Response.Header.Peek("ETag"))
			ctx.Request.Header.Set("If-None-Match", etag)
			run()
			if ctx.Response.StatusCode() != 304 {
				t.Fatalf("%s: status %d, want 304", tc.uri, ctx.Response.StatusCode())
			}
			if n := minAllocs(run); n != 0 {
				t.Errorf("%s 304: %v allocations per request, want 0", tc.uri, n)
			}
		}
	})
}

// minAllocs is the least of a few testing.AllocsPerRun measurements, so a
// GC cycle emptying a sync.Pool mid-run does not fail the test.
func minAllocs(f func()) float64 {
	least := -1.0
	for range 5 {
		if n := testing.AllocsPerRun(200, f); least < 0 || n < least {
			least = n
		}
		if least == 0 {
			break
		}
	}
	return least
}
