package main

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// tlsServer is a real crypto/tls HTTP server on 127.0.0.1 answering "ok".
func tlsServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" && r.Header.Get("Authorization") != "tok" {
			w.WriteHeader(http.StatusUnauthorized)
		}
		_, _ = io.WriteString(w, "ok")
	}))
	srv.TLS = &tls.Config{}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func runArgs(t *testing.T, args ...string) *result {
	t.Helper()
	cfg, err := parseFlags(args)
	if err != nil {
		t.Fatal(err)
	}
	res, err := run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.ops == 0 || len(res.lat) != int(res.ops) {
		t.Fatalf("ops %d, latencies %d", res.ops, len(res.lat))
	}
	return res
}

func TestHandshakeFullAndResumed(t *testing.T) {
	srv := tlsServer(t)
	addr := strings.TrimPrefix(srv.URL, "https://")
	for _, ver := range []string{"1.2", "1.3"} {
		full := runArgs(t, "-mode", "handshake", "-addr", addr, "-tls", ver, "-c", "2", "-n", "20", "-d", "10s")
		if full.resumed != 0 || full.errors != 0 || full.statusErr != 0 {
			t.Errorf("TLS %s full: resumed %d, errors %d, status errors %d", ver, full.resumed, full.errors, full.statusErr)
		}
		res := runArgs(t, "-mode", "handshake", "-addr", addr, "-tls", ver, "-resume", "-c", "2", "-n", "20", "-d", "10s")
		// The first connection of each worker may be full; the rest resume.
		if res.resumed < res.ops-2 || res.errors != 0 {
			t.Errorf("TLS %s resumed %d of %d, errors %d", ver, res.resumed, res.ops, res.errors)
		}
	}
}

func TestHTTPKeepAliveAndStatus(t *testing.T) {
	srv := tlsServer(t)
	addr := strings.TrimPrefix(srv.URL, "https://")
	res := runArgs(t, "-mode", "http", "-addr", addr, "-tls", "1.3", "-c", "2", "-n", "50", "-d", "10s", "-H", "Authorization: tok")
	if res.statusErr != 0 || res.errors != 0 {
		t.Errorf("status errors %d, errors %d", res.statusErr, res.errors)
	}
	// A wrong token is one clear error from the probe, not a run of 401s.
	cfg, _ := parseFlags([]string{"-mode", "http", "-addr", addr, "-tls", "1.3", "-n", "5", "-H", "Authorization: wrong"})
	if _, err := run(cfg); err == nil || !strings.Contains(err.Error(), "answered 401") {
		t.Errorf("wrong token: err = %v, want one naming the 401", err)
	}
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") }))
	defer plain.Close()
	paced := runArgs(t, "-mode", "http", "-addr", strings.TrimPrefix(plain.URL, "http://"), "-tls", "none", "-c", "2", "-rate", "200", "-d", "300ms")
	// 200/s for 0.3 s is about 60 requests; pacing must not run closed-loop.
	if paced.ops < 30 || paced.ops > 90 {
		t.Errorf("paced at 200/s for 300ms: %d requests", paced.ops)
	}
}

func TestProbeNamesTheFailure(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	addr := strings.TrimPrefix(srv.URL, "http://")
	cfg, _ := parseFlags([]string{"-mode", "handshake", "-addr", addr, "-timeout", "2s"})
	start := time.Now()
	_, err := run(cfg)
	if err == nil || !strings.Contains(err.Error(), "TLS handshake") {
		t.Fatalf("TLS against a plain server: err = %v", err)
	}
	srv.Close()
	if _, err := run(cfg); err == nil {
		t.Fatal("a closed port was not reported")
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("probe took longer than its timeout")
	}
}
