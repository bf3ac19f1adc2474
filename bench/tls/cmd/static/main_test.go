package main

import (
	"encoding/json"
	"net"
	"testing"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"
)

func TestBodyIsJSONOfTheSize(t *testing.T) {
	for _, n := range []int{20, 1024, 6000} {
		b := body(n)
		if len(b) != n || !json.Valid(b) {
			t.Errorf("body(%d): %d bytes, valid JSON %v", n, len(b), json.Valid(b))
		}
	}
}

func serve(t *testing.T, h fasthttp.RequestHandler) *fasthttputil.InmemoryListener {
	t.Helper()
	ln := fasthttputil.NewInmemoryListener()
	srv := &fasthttp.Server{Handler: h}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return ln
}

func TestProxyForwardsAndAnswersHealth(t *testing.T) {
	var seenXFF string
	up, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	upSrv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		seenXFF = string(ctx.Request.Header.Peek("X-Forwarded-For"))
		ctx.SetBodyString("from upstream " + string(ctx.Path()))
	}}
	go func() { _ = upSrv.Serve(up) }()
	defer func() { _ = upSrv.Shutdown() }()

	h, err := handler(body(64), "http://"+up.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	ln := serve(t, h)
	c := &fasthttp.Client{Dial: func(string) (net.Conn, error) { return ln.Dial() }}
	status, b, err := c.Get(nil, "http://x/a/b")
	if err != nil || status != 200 || string(b) != "from upstream /a/b" || seenXFF == "" {
		t.Fatalf("forwarded: %d %q %v, X-Forwarded-For %q", status, b, err, seenXFF)
	}
	status, b, err = c.Get(nil, "http://x/health")
	if err != nil || status != 200 || string(b) != `{"ok":true}` {
		t.Fatalf("/health: %d %q %v", status, b, err)
	}
	_ = upSrv.Shutdown()
	up.Close()
	status, _, err = c.Get(nil, "http://x/gone")
	if err != nil || status != fasthttp.StatusBadGateway {
		t.Fatalf("upstream down: %d %v, want 502", status, err)
	}
	if _, err := handler(body(64), "ftp://x"); err == nil {
		t.Fatal("an ftp proxy URL was accepted")
	}
}
