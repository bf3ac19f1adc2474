//go:build !race

package api

import (
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/brink-edge/brink/flags"
)

// TestSignalPropertiesAllocFree: adding the connection signal to the
// frontend context, and answering /signal, allocate nothing per request.
func TestSignalPropertiesAllocFree(t *testing.T) {
	store := new(flags.Store)
	store.Publish("", compile(t, signalFlags), "test")
	h, err := New(Config{Store: store, Tokens: testTokens()})
	if err != nil {
		t.Fatal(err)
	}
	conn := &signalConn{}
	conn.sig.Reset()
	conn.sig.RTT, conn.sig.TTL, conn.sig.IPVersion = 200_000, 52, 4
	for _, uri := range []string{"/api/frontend?userId=7", "/signal"} {
		var ctx fasthttp.RequestCtx
		ctx.Init2(conn, nil, false)
		ctx.Response.KeepBodyBuffer = true // as a fasthttp.Server's contexts do (see loop_test.go)
		ctx.Request.Header.Set("Authorization", tokFront)
		ctx.Request.SetRequestURI(uri)
		run := func() {
			ctx.Response.Reset()
			ctx.Request.SetRequestURI(uri)
			h.Handle(&ctx)
		}
		for range 10 {
			run()
		}
		if n := minAllocs(run); n != 0 {
			t.Errorf("%s: %v allocs per request, want 0", uri, n)
		}
		if ctx.Response.StatusCode() != 200 {
			t.Errorf("%s: status %d", uri, ctx.Response.StatusCode())
		}
	}
}
