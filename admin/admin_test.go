package admin

import (
	"context"
	"crypto/sha256"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"
)

// start builds and runs a Server for cfg, stopping it at the end of t.
func start(t *testing.T, cfg Config) *Server {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	return s
}

func get(t *testing.T, addr net.Addr, path, token string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest("GET", "http://"+addr.String()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading body: %v", path, err)
	}
	return resp.StatusCode, resp.Header, string(body)
}

func TestLoopbackWithoutToken(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0", "localhost:0"} {
		t.Run(addr, func(t *testing.T) {
			if addr == "[::1]:0" {
				if ln, err := net.Listen("tcp", addr); err != nil {
					t.Skipf("no IPv6 loopback here: %v", err)
				} else {
					ln.Close()
				}
			}
			s := start(t, Config{PrometheusAddr: addr})
			code, hdr, body := get(t, s.PrometheusAddr(), "/metrics", "")
			if code != 200 {
				t.Fatalf("GET /metrics = %d, want 200: %s", code, body)
			}
			if ct := hdr.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
				t.Errorf("Content-Type %q, want text/plain", ct)
			}
			// A known series of this package, and a process metric that
			// WritePrometheus(w, true) adds.
			for _, want := range []string{`brink_admin_requests_total{result="ok"}`, "go_goroutines"} {
				if !strings.Contains(body, want) {
					t.Errorf("metrics body lacks %s", want)
				}
			}
			if s.AdminAddr() != nil {
				t.Errorf("AdminAddr = %v, want nil without PprofAddr", s.AdminAddr())
			}
		})
	}
}

func TestBeyondLoopbackWithoutTokenRefused(t *testing.T) {
	var addrs []string
	addrs = append(addrs, ":0", "0.0.0.0:0", "[::]:0", "192.0.2.1:9090")
	// A host name resolving beyond loopback: this machine's own non-loopback
	// address, if it has one, written as a literal.
	if ifaddrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range ifaddrs {
			if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
				addrs = append(addrs, net.JoinHostPort(n.IP.String(), "0"))
				break
			}
		}
	}
	for _, addr := range addrs {
		for _, cfg := range []Config{
			{PrometheusAddr: addr},
			{PrometheusAddr: "127.0.0.1:0", PprofAddr: addr, Pprof: true},
		} {
			s, err := New(cfg)
			if err == nil {
				s.Shutdown(context.Background())
				t.Errorf("New(%+v) succeeded, want a refusal", cfg)
				continue
			}
			if !strings.Contains(err.Error(), "beyond loopback") || !strings.Contains(err.Error(), addr) {
				t.Errorf("New(%+v) error %q does not name the address and the reason", cfg, err)
			}
		}
	}
	// With a token the same wildcard address is accepted.
	s, err := New(Config{PrometheusAddr: "0.0.0.0:0", BearerToken: "s3cret"})
	if err != nil {
		t.Fatalf("New with a token on 0.0.0.0: %v", err)
	}
	s.Shutdown(context.Background())
}

func TestLoopbackOnly(t *testing.T) {
	tests := []struct {
		addr    string
		want    bool
		wantErr bool
	}{
		{"127.0.0.1:9090", true, false},
		{"127.8.9.10:9090", true, false},
		{"[::1]:9090", true, false},
		{"[::ffff:127.0.0.1]:9090", true, false},
		{"localhost:9090", true, false},
		{":9090", false, false},
		{"0.0.0.0:9090", false, false},
		{"[::]:9090", false, false},
		{"10.0.0.1:9090", false, false},
		{"[2001:db8::1]:9090", false, false},
		{"9090", false, true},
		{"no-such-host.invalid:9090", false, true},
	}
	for _, tt := range tests {
		got, err := loopbackOnly(tt.addr)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("loopbackOnly(%q) = %v, %v; want %v, error %v", tt.addr, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestHostNameBeyondLoopback(t *testing.T) {
	orig := lookupNetIP
	t.Cleanup(func() { lookupNetIP = orig })
	names := map[string][]netip.Addr{
		"metrics.internal": {netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("10.1.2.3")},
		"loop.internal":    {netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")},
		"empty.internal":   {},
	}
	lookupNetIP = func(_ context.Context, _, host string) ([]netip.Addr, error) {
		if a, ok := names[host]; ok {
			return a, nil
		}
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	_, err := New(Config{PrometheusAddr: "metrics.internal:9090"})
	if err == nil || !strings.Contains(err.Error(), "beyond loopback") {
		t.Errorf("a name resolving to 127.0.0.1 and 10.1.2.3: %v, want a beyond-loopback refusal", err)
	}
	for host, want := range map[string]bool{"loop.internal": true, "empty.internal": false} {
		if got, err := loopbackOnly(host + ":9090"); got != want || err != nil {
			t.Errorf("loopbackOnly(%s) = %v, %v; want %v", host, got, err, want)
		}
	}
	if _, err := New(Config{PrometheusAddr: "nope.internal:9090"}); err == nil || !strings.Contains(err.Error(), "nope.internal") {
		t.Errorf("an unresolvable name: %v, want an error naming it", err)
	}
}

func TestBearerToken(t *testing.T) {
	const tok = "metrics-token-42"
	s := start(t, Config{PrometheusAddr: "127.0.0.1:0", BearerToken: tok})
	addr := s.PrometheusAddr()
	for _, h := range []string{"", "Bearer", "Bearer ", "Bearer wrong", "Basic " + tok, "Bearer " + tok + "x", "Bearer metrics-token-4"} {
		code, hdr, body := get(t, addr, "/metrics", h)
		if code != http.StatusUnauthorized {
			t.Errorf("Authorization %q: status %d, want 401", h, code)
		}
		if !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer ") {
			t.Errorf("Authorization %q: WWW-Authenticate %q, want a Bearer challenge", h, hdr.Get("WWW-Authenticate"))
		}
		if strings.Contains(body, "brink_") {
			t.Errorf("Authorization %q: 401 body leaks metrics", h)
		}
	}
	for _, h := range []string{"Bearer " + tok, "bearer " + tok} {
		code, _, body := get(t, addr, "/metrics", h)
		if code != 200 {
			t.Fatalf("Authorization %q: status %d, want 200", h, code)
		}
		if !strings.Contains(body, `brink_admin_requests_total{result="unauthorized"}`) {
			t.Errorf("metrics body lacks the unauthorized counter")
		}
	}
}

func TestAuthorized(t *testing.T) {
	want := sha256.Sum256([]byte("t"))
	tests := []struct {
		h    string
		want bool
	}{
		{"Bearer t", true}, {"BEARER t", true}, {"Bearer  t ", true},
		{"Bearer", false}, {"Bearer u", false}, {"t", false}, {"Bearert", false}, {"", false},
	}
	for _, tt := range tests {
		if got := authorized(tt.h, &want); got != tt.want {
			t.Errorf("authorized(%q) = %v, want %v", tt.h, got, tt.want)
		}
	}
}

func TestPprof(t *testing.T) {
	t.Run("off", func(t *testing.T) {
		s := start(t, Config{PrometheusAddr: "127.0.0.1:0", PprofAddr: "127.0.0.1:0"})
		for _, a := range []net.Addr{s.PrometheusAddr(), s.AdminAddr()} {
			if code, _, _ := get(t, a, "/debug/pprof/", ""); code != 404 {
				t.Errorf("%v /debug/pprof/ with pprof off: %d, want 404", a, code)
			}
		}
		if code, _, _ := get(t, s.AdminAddr(), "/metrics", ""); code != 200 {
			t.Errorf("admin /metrics: %d, want 200", code)
		}
	})
	t.Run("on, admin listener", func(t *testing.T) {
		s := start(t, Config{PrometheusAddr: "127.0.0.1:0", PprofAddr: "127.0.0.1:0", Pprof: true})
		code, _, body := get(t, s.AdminAddr(), "/debug/pprof/", "")
		if code != 200 || !strings.Contains(body, "goroutine") || !strings.Contains(body, "heap") {
			t.Fatalf("admin /debug/pprof/: %d, want the profile index: %.200s", code, body)
		}
		if code, _, body := get(t, s.AdminAddr(), "/debug/pprof/goroutine?debug=1", ""); code != 200 || !strings.Contains(body, "goroutine profile:") {
			t.Errorf("goroutine profile: %d %.100s", code, body)
		}
		for _, path := range []string{"/debug/pprof/heap?gc=1", "/debug/pprof/profile?seconds=1"} {
			code, _, body := get(t, s.AdminAddr(), path, "")
			// Profiles in proto form are gzip-compressed.
			if code != 200 || len(body) < 2 || body[0] != 0x1f || body[1] != 0x8b {
				t.Errorf("%s: %d, %d bytes, want a gzip profile", path, code, len(body))
			}
		}
		for _, path := range []string{"/debug/pprof/profile?seconds=0", "/debug/pprof/profile?seconds=x", "/debug/pprof/trace?seconds=1000"} {
			if code, _, _ := get(t, s.AdminAddr(), path, ""); code != 400 {
				t.Errorf("%s: %d, want 400", path, code)
			}
		}
		if code, _, _ := get(t, s.AdminAddr(), "/debug/pprof/nope", ""); code != 404 {
			t.Errorf("unknown profile: %d, want 404", code)
		}
		if code, _, body := get(t, s.AdminAddr(), "/debug/pprof/cmdline", ""); code != 200 || !strings.Contains(body, "admin.test") {
			t.Errorf("cmdline: %d %q", code, body)
		}
		// Only on the admin listener.
		if code, _, _ := get(t, s.PrometheusAddr(), "/debug/pprof/", ""); code != 404 {
			t.Errorf("Prometheus listener /debug/pprof/: %d, want 404", code)
		}
		// Never on the default mux.
		if _, pattern := http.DefaultServeMux.Handler(&http.Request{Method: "GET", URL: mustURL(t, "/debug/pprof/")}); pattern != "" {
			t.Errorf("http.DefaultServeMux has %q", pattern)
		}
	})
	t.Run("on, one listener, token", func(t *testing.T) {
		s := start(t, Config{PrometheusAddr: "127.0.0.1:0", Pprof: true, BearerToken: "tk"})
		if code, _, _ := get(t, s.PrometheusAddr(), "/debug/pprof/", ""); code != 401 {
			t.Errorf("/debug/pprof/ without token: %d, want 401", code)
		}
		if code, _, body := get(t, s.PrometheusAddr(), "/debug/pprof/", "Bearer tk"); code != 200 || !strings.Contains(body, "goroutine") {
			t.Errorf("/debug/pprof/ with token: %d", code)
		}
	})
	t.Run("on, no listener", func(t *testing.T) {
		if _, err := New(Config{Pprof: true}); err == nil {
			t.Error("New with pprof and no listener succeeded")
		}
	})
}

func TestListenError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = New(Config{PrometheusAddr: ln.Addr().String()})
	if err == nil || !strings.Contains(err.Error(), ln.Addr().String()) {
		t.Errorf("New on a taken port: %v, want an error naming %s", err, ln.Addr())
	}
}

func TestShutdownBeforeRun(t *testing.T) {
	s, err := New(Config{PrometheusAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	addr := s.PrometheusAddr().String()
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
	// The port is free again.
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("port still bound after Shutdown: %v", err)
	}
	ln.Close()
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
