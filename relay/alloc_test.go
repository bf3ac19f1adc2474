//go:build !race

package relay

import (
	"time"

	"github.com/brink-edge/brink/connsig"
	"net"
	"testing"

	"github.com/valyala/fasthttp"
)

// startFastUpstream is an allocation-free plain-HTTP upstream on 127.0.0.1.
func startFastUpstream(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("application/json")
		ctx.SetBodyString(`{"score":0.5}`)
	}}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return "http://" + ln.Addr().String()
}

func TestHandleAllocs(t *testing.T) {
	url := startFastUpstream(t)
	r, err := New(Config{URL: url, License: testLicense, Routes: []Route{{PathPrefix: "/octet"}}})
	if err != nil {
		t.Fatal(err)
	}
	var ctx fasthttpCtx
	ctx.init("edge.example", "/octet/v1/score?x=1")
	body := []byte(`{"event":"pageview"}`)
	run := func() {
		ctx.Response.Reset()
		ctx.Request.Header.SetMethod("POST")
		ctx.Request.Header.Set("X-Brink-Signal", "v1 forged")
		ctx.Request.Header.Set("X-Forwarded-For", "6.6.6.6")
		ctx.Request.SetBodyRaw(body)
		r.Handle(&ctx.RequestCtx)
		if ctx.Response.StatusCode() != 200 {
			t.Fatalf("status %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
		}
	}
	for range 10 {
		run()
	}
	if n := testing.AllocsPerRun(200, run); n != 0 {
		t.Errorf("Handle: %v allocations per forwarded request, want 0", n)
	}
	if n := testing.AllocsPerRun(200, func() {
		if !r.Match(&ctx.RequestCtx) {
			t.Fatal("no match")
		}
	}); n != 0 {
		t.Errorf("Match: %v allocations, want 0", n)
	}
}

func TestConnectorAddAllocs(t *testing.T) {
	rec := newRecorder(t, false)
	c := newTestConnector(t, rec, func(cfg *Config) {
		cfg.QueueRecords = 1 << 20
		cfg.BatchRecords = MaxBatchRecords
		cfg.FlushInterval = 1 << 40
	})
	defer func() { _ = closeConnector(t, c, 5*time.Second) }()
	var s connsig.Signal
	fillSignal(&s, 1)
	at := time.Now()
	for range 2000 {
		c.Add(&s, remoteOf(1), at)
	}
	if n := testing.AllocsPerRun(1000, func() { c.Add(&s, remoteOf(1), at) }); n != 0 {
		t.Errorf("Add: %v allocations, want 0", n)
	}
	var buf []byte
	rec2 := record{sig: s, remote: remoteOf(1), at: at.UnixNano()}
	buf = appendRecord(buf, &rec2)
	if n := testing.AllocsPerRun(100, func() { buf = appendRecord(buf[:0], &rec2) }); n != 0 {
		t.Errorf("appendRecord: %v allocations, want 0", n)
	}
}
