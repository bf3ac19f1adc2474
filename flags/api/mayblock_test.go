package api

import (
	"testing"

	"github.com/valyala/fasthttp"
)

// mayBlockCtx is a request for MayBlock: method, path and token.
func mayBlockCtx(method, path, token string) *fasthttp.RequestCtx {
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod(method)
	ctx.Request.SetRequestURI(path)
	if token != "" {
		ctx.Request.Header.Set("Authorization", token)
	}
	return &ctx
}

func TestMayBlock(t *testing.T) {
	edge, _ := newValidatorServer(t, nil)
	offline := newTestServer(t, Config{Tokens: testTokens()})
	tests := []struct {
		name   string
		h      *Handler
		ctx    *fasthttp.RequestCtx
		blocks bool
	}{
		{"edge: a token the cache does not know is validated upstream", edge.h, mayBlockCtx("GET", "/api/client/features", tokNewClient), true},
		{"edge: a known token is a lookup", edge.h, mayBlockCtx("GET", "/api/client/features", tokClient), false},
		{"edge: no token is answered 403 at once", edge.h, mayBlockCtx("GET", "/api/frontend", ""), false},
		{"edge: /edge/validate validates upstream", edge.h, mayBlockCtx("POST", "/edge/validate", tokClient), true},
		{"offline: an unknown token is a 403, no validation", offline.h, mayBlockCtx("GET", "/api/client/features", tokNewClient), false},
		{"offline: /edge/validate answers from the cache", offline.h, mayBlockCtx("POST", "/edge/validate", tokClient), false},
	}
	for _, tt := range tests {
		if got := tt.h.MayBlock(tt.ctx); got != tt.blocks {
			t.Errorf("%s: MayBlock = %v, want %v", tt.name, got, tt.blocks)
		}
	}

	// Once validated, the token is a lookup again.
	if resp := edge.do(req{uri: "/api/client/features", token: tokNewClient}); resp.StatusCode() != 200 {
		t.Fatalf("validating %s: status %d", tokNewClient, resp.StatusCode())
	}
	if edge.h.MayBlock(mayBlockCtx("GET", "/api/client/features", tokNewClient)) {
		t.Error("MayBlock still true for a token validated and cached")
	}
}

func TestMayBlockAllocs(t *testing.T) {
	edge, _ := newValidatorServer(t, nil)
	ctx := mayBlockCtx("GET", "/api/frontend", tokFront)
	if n := testing.AllocsPerRun(200, func() { _ = edge.h.MayBlock(ctx) }); n != 0 {
		t.Errorf("MayBlock: %v allocations, want 0", n)
	}
}
