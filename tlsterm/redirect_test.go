package tlsterm

import (
	"net"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

func serveHTTP(t *testing.T, h fasthttp.RequestHandler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: h, Logger: quietLogger{}}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return ln.Addr().String()
}

func TestRedirectHandler(t *testing.T) {
	acme := serveHTTP(t, func(ctx *fasthttp.RequestCtx) {
		ctx.SetBodyString("token for " + string(ctx.Path()))
	})
	tests := []struct {
		name      string
		cfg       RedirectConfig
		host, uri string
		status    int
		location  string
		body      string
	}{
		{"redirect", RedirectConfig{}, "engine.test", "/api/frontend?a=1&b=%20", 308, "https://engine.test/api/frontend?a=1&b=%20", ""},
		{"port dropped", RedirectConfig{}, "engine.test:80", "/", 308, "https://engine.test/", ""},
		{"https port", RedirectConfig{HTTPSPort: 8443}, "engine.test:8080", "/x", 308, "https://engine.test:8443/x", ""},
		{"ipv6", RedirectConfig{}, "[::1]:80", "/x", 308, "https://[::1]/x", ""},
		{"bad host", RedirectConfig{}, "evil.test/x", "/", 400, "", ""},
		{"acme without backend", RedirectConfig{}, "engine.test", "/.well-known/acme-challenge/abc", 404, "", ""},
		{"acme proxied", RedirectConfig{ACMEBackend: acme}, "engine.test", "/.well-known/acme-challenge/abc", 200, "", "token for /.well-known/acme-challenge/abc"},
		{"acme backend down", RedirectConfig{ACMEBackend: "127.0.0.1:1", ACMETimeout: time.Second}, "engine.test", "/.well-known/acme-challenge/abc", 502, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := RedirectHandler(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			addr := serveHTTP(t, h)
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			req.SetRequestURI("http://" + addr + tt.uri)
			req.Header.SetHost(tt.host)
			req.UseHostHeader = true
			c := &fasthttp.Client{}
			if err := c.DoTimeout(req, resp, 5*time.Second); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode() != tt.status {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode(), tt.status, resp.Body())
			}
			if loc := string(resp.Header.Peek("Location")); loc != tt.location {
				t.Fatalf("Location %q, want %q", loc, tt.location)
			}
			if tt.body != "" && string(resp.Body()) != tt.body {
				t.Fatalf("body %q, want %q", resp.Body(), tt.body)
			}
		})
	}
	if _, err := RedirectHandler(RedirectConfig{ACMEBackend: "nohost"}); err == nil {
		t.Fatal("an ACME backend without a port was accepted")
	}
}

func TestHostOnly(t *testing.T) {
	tests := []struct{ in, want string }{
		{"engine.test", "engine.test"},
		{"Engine.Test:8080", "Engine.Test"},
		{"[::1]:80", "[::1]"},
		{"[fe80::1", ""},
		{"[::1]x", "[::1]"},
		{"a$b.test", ""},
		{"a b", ""},
		{":80", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := string(hostOnly([]byte(tt.in))); got != tt.want {
			t.Errorf("hostOnly(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

type quietLogger struct{}

func (quietLogger) Printf(string, ...any) {}
