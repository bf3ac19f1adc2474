package relay

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/brink-edge/brink/connsig"
)

const testLicense = "lic-123"

func newTestRelay(t testing.TB, rec *recorder, mod func(*Config)) *Relay {
	t.Helper()
	cfg := Config{
		URL:     rec.url(),
		License: testLicense,
		Routes:  []Route{{PathPrefix: "/octet"}, {Host: "octet.example.com"}},
		TLS:     &tls.Config{RootCAs: rec.pki.pool, MinVersion: tls.VersionTLS12},
	}
	if mod != nil {
		mod(&cfg)
	}
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func httpClient(pool bool, roots *tls.Config) *http.Client {
	tr := &http.Transport{TLSClientConfig: roots, DisableKeepAlives: !pool}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func do(t *testing.T, c *http.Client, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestForwardHeaders: the upstream sees the licence, X-Forwarded-*, and the
// connection's signal; a client's forged signal, licence, forwarding
// headers and hop-by-hop headers never arrive.
func TestForwardHeaders(t *testing.T) {
	rec := newRecorder(t, false)
	r := newTestRelay(t, rec, nil)
	pki := newTestPKI(t)
	for _, tlsFront := range []bool{false, true} {
		name := "http front"
		var srvTLS, cliTLS *tls.Config
		if tlsFront {
			name = "https front"
			srvTLS = &tls.Config{Certificates: []tls.Certificate{pki.server}}
			cliTLS = &tls.Config{RootCAs: pki.pool}
		}
		t.Run(name, func(t *testing.T) {
			f := startFront(t, r, srvTLS, false)
			scheme := "http"
			if tlsFront {
				scheme = "https"
			}
			before := len(rec.requests())
			req, _ := http.NewRequest("POST", scheme+"://"+f.addr+"/octet/v1/score?x=1&y=%2F", strings.NewReader(`{"a":1}`))
			req.Host = "Edge.Example.com:8443"
			req.Header.Set("X-Brink-Signal", "v1 forged")
			req.Header.Set("X-License-Key", "stolen")
			req.Header.Set("X-Forwarded-For", "6.6.6.6")
			req.Header.Set("X-Forwarded-Proto", "gopher")
			req.Header.Set("Forwarded", "for=6.6.6.6")
			req.Header.Set("Connection", "X-Hop")
			req.Header.Set("X-Hop", "secret")
			req.Header.Set("Keep-Alive", "timeout=5")
			req.Header.Set("X-Keep", "kept")
			resp, body := do(t, httpClient(false, cliTLS), req)
			if resp.StatusCode != 200 || !strings.HasPrefix(body, "hello from upstream POST /octet/v1/score") {
				t.Fatalf("status %d body %q", resp.StatusCode, body)
			}
			if resp.Header.Get("X-Upstream") != "recorder" {
				t.Errorf("answer header X-Upstream = %q", resp.Header.Get("X-Upstream"))
			}
			reqs := rec.requests()
			if len(reqs) != before+1 {
				t.Fatalf("upstream saw %d requests, want %d", len(reqs), before+1)
			}
			got := reqs[len(reqs)-1]
			wantProto := "http"
			if tlsFront {
				wantProto = "https"
			}
			checks := []struct{ name, got, want string }{
				{"URI", got.URI, "/octet/v1/score?x=1&y=%2F"},
				{"Host", got.Host, rec.addr},
				{"body", string(got.Body), `{"a":1}`},
				{"X-License-Key", strings.Join(got.Header.Values("X-License-Key"), ","), testLicense},
				{"X-Forwarded-For", strings.Join(got.Header.Values("X-Forwarded-For"), ","), "127.0.0.1"},
				{"X-Forwarded-Proto", got.Header.Get("X-Forwarded-Proto"), wantProto},
				{"X-Forwarded-Host", strings.ToLower(got.Header.Get("X-Forwarded-Host")), "edge.example.com:8443"},
				{"Forwarded", got.Header.Get("Forwarded"), ""},
				{"X-Hop", got.Header.Get("X-Hop"), ""},
				{"Keep-Alive", got.Header.Get("Keep-Alive"), ""},
				{"X-Keep", got.Header.Get("X-Keep"), "kept"},
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
				}
			}
			sigs := got.Header.Values("X-Brink-Signal")
			if len(sigs) != 1 {
				t.Fatalf("X-Brink-Signal values %q, want one", sigs)
			}
			js := decodeSignalHeader(t, sigs[0])
			var s connsig.Signal
			fillSignal(&s, 0)
			var m map[string]any
			if err := json.Unmarshal(js, &m); err != nil {
				t.Fatalf("signal JSON %s: %v", js, err)
			}
			if m["ttl"] != float64(64) || m["tcpRttUs"].(float64) <= 1000 || m["fingerprint"] != "b1_4d_64_2.4.8.1.3_65495_7_m1" {
				t.Errorf("signal %s is not the connection's", js)
			}
		})
	}
}

func decodeSignalHeader(t *testing.T, v string) []byte {
	t.Helper()
	ver, enc, ok := strings.Cut(v, " ")
	if !ok || ver != SignalVersion {
		t.Fatalf("signal header %q does not start with %q", v, SignalVersion+" ")
	}
	js, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		t.Fatalf("signal header %q: %v", v, err)
	}
	return js
}

// TestForwardNoSignal: a connection without a signal forwards no signal
// header, even when the client sent one; a request outside the routes is
// not forwarded.
func TestForwardNoSignal(t *testing.T) {
	rec := newRecorder(t, false)
	r := newTestRelay(t, rec, func(c *Config) { c.TrustForwardedFor = true })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := plainFront(r)
	go func() { _ = srv.Serve(ln) }()
	defer func() { _ = srv.Shutdown() }()
	c := httpClient(true, nil)
	req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+"/elsewhere", nil)
	if resp, _ := do(t, c, req); resp.StatusCode != 404 {
		t.Fatalf("unrouted request: status %d", resp.StatusCode)
	}
	req, _ = http.NewRequest("GET", "http://"+ln.Addr().String()+"/any/path", nil)
	req.Host = "OCTET.example.com"
	req.Header.Set("X-Brink-Signal", "v1 forged")
	req.Header.Add("X-Forwarded-For", "10.0.0.1")
	req.Header.Add("X-Forwarded-For", "10.0.0.2, 10.0.0.3")
	if resp, body := do(t, c, req); resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	reqs := rec.requests()
	if len(reqs) != 1 {
		t.Fatalf("upstream saw %d requests, want 1", len(reqs))
	}
	if v := reqs[0].Header.Values("X-Brink-Signal"); len(v) != 0 {
		t.Errorf("forged signal arrived: %q", v)
	}
	if got := reqs[0].Header.Get("X-Forwarded-For"); got != "10.0.0.1, 10.0.0.2, 10.0.0.3, 127.0.0.1" {
		t.Errorf("trusted X-Forwarded-For = %q", got)
	}
}

func TestRouteMatch(t *testing.T) {
	rec := newRecorder(t, false)
	r := newTestRelay(t, rec, func(c *Config) {
		c.Routes = []Route{{PathPrefix: "/octet"}, {Host: "API.Octet.example", PathPrefix: "/v2/"}, {Host: "[::1]"}}
	})
	tests := []struct {
		host, path string
		want       bool
	}{
		{"a.example", "/octet", true},
		{"a.example", "/octet/x", true},
		{"a.example", "/octetx", false},
		{"a.example", "/other", false},
		{"api.octet.EXAMPLE:443", "/v2/x", true},
		{"api.octet.example", "/v2", false},
		{"other.example", "/v2/x", false},
		{"[::1]:8443", "/", true},
		{"[::2]:8443", "/", false},
		{"a.example", "/octet/../admin", false},
		{"a.example", "/octet/%2e%2e/admin", false},
	}
	for _, tt := range tests {
		var ctx fasthttpCtx
		ctx.init(tt.host, tt.path)
		if got := r.Match(&ctx.RequestCtx); got != tt.want {
			t.Errorf("Match(host %q, path %q) = %v, want %v", tt.host, tt.path, got, tt.want)
		}
	}
}

func TestStripPrefixAndBasePath(t *testing.T) {
	rec := newRecorder(t, false)
	r := newTestRelay(t, rec, func(c *Config) {
		c.URL = rec.url() + "/api/"
		c.Routes = []Route{{PathPrefix: "/octet", StripPrefix: true}}
	})
	f := startFront(t, r, nil, false)
	c := httpClient(true, nil)
	for _, p := range []string{"/octet/v1/x?q=1", "/octet"} {
		req, _ := http.NewRequest("GET", "http://"+f.addr+p, nil)
		if resp, body := do(t, c, req); resp.StatusCode != 200 {
			t.Fatalf("%s: status %d %s", p, resp.StatusCode, body)
		}
	}
	reqs := rec.requests()
	if len(reqs) != 2 || reqs[0].URI != "/api/v1/x?q=1" || reqs[1].URI != "/api/" {
		t.Fatalf("upstream URIs: %+v", reqs)
	}
}

func TestUpstreamErrors(t *testing.T) {
	t.Run("unreachable is 502", func(t *testing.T) {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		addr := ln.Addr().String()
		_ = ln.Close()
		rec := newRecorder(t, false)
		r := newTestRelay(t, rec, func(c *Config) { c.URL = "https://" + addr })
		f := startFront(t, r, nil, false)
		req, _ := http.NewRequest("GET", "http://"+f.addr+"/octet/x", nil)
		resp, body := do(t, httpClient(false, nil), req)
		if resp.StatusCode != 502 || body != `{"error":"upstream unreachable"}` || resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("status %d type %q body %q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
		if re := r.Reachability(); !re.Known || re.Reachable || re.LastError == "" {
			t.Errorf("reachability %+v", re)
		}
	})
	t.Run("slow is 504", func(t *testing.T) {
		rec := newRecorder(t, false)
		rec.delay.Store(int64(3 * time.Second))
		r := newTestRelay(t, rec, func(c *Config) { c.Timeout = 500 * time.Millisecond })
		f := startFront(t, r, nil, false)
		req, _ := http.NewRequest("GET", "http://"+f.addr+"/octet/x", nil)
		resp, body := do(t, httpClient(false, nil), req)
		if resp.StatusCode != 504 || body != `{"error":"upstream timed out"}` {
			t.Fatalf("status %d body %q", resp.StatusCode, body)
		}
		time.Sleep(500 * time.Millisecond) // a retry, were there one, would arrive by now
		if n := rec.hits.Load(); n > 1 {
			t.Errorf("a timed-out GET reached the upstream %d times, want at most 1 (no retry after a timeout)", n)
		}
	})
	t.Run("body over MaxBodyBytes is 413", func(t *testing.T) {
		rec := newRecorder(t, false)
		r := newTestRelay(t, rec, func(c *Config) { c.MaxBodyBytes = 1024 })
		for _, stream := range []bool{false, true} {
			f := startFront(t, r, nil, stream)
			c := httpClient(false, nil)
			req, _ := http.NewRequest("POST", "http://"+f.addr+"/octet/x", bytes.NewReader(make([]byte, 2048)))
			if resp, body := do(t, c, req); resp.StatusCode != 413 || body != `{"error":"request body too large"}` {
				t.Errorf("stream=%v, Content-Length: status %d body %q", stream, resp.StatusCode, body)
			}
			// Chunked: no Content-Length tells the size in advance.
			req, _ = http.NewRequest("POST", "http://"+f.addr+"/octet/x", io.MultiReader(bytes.NewReader(make([]byte, 2048))))
			if resp, body := do(t, c, req); resp.StatusCode != 413 {
				t.Errorf("stream=%v, chunked: status %d body %q", stream, resp.StatusCode, body)
			}
			req, _ = http.NewRequest("POST", "http://"+f.addr+"/octet/x", io.MultiReader(bytes.NewReader(make([]byte, 1024))))
			if resp, body := do(t, c, req); resp.StatusCode != 200 {
				t.Errorf("stream=%v, chunked at the limit: status %d body %q", stream, resp.StatusCode, body)
			}
		}
		if n := len(rec.requests()); n != 2 {
			t.Errorf("upstream got %d requests, want the 2 at the limit", n)
		}
	})
}

// TestRetryOnlyIdempotent: an upstream that drops connections unanswered
// sees a POST once and a GET twice (one retry).
func TestRetryOnlyIdempotent(t *testing.T) {
	rec := newRecorder(t, false)
	rec.drop.Store(true)
	r := newTestRelay(t, rec, nil)
	f := startFront(t, r, nil, false)
	c := httpClient(false, nil)
	tests := []struct {
		method string
		hits   int64
	}{
		{"POST", 1}, {"PATCH", 1}, {"GET", 2}, {"PUT", 2}, {"DELETE", 2}, {"OPTIONS", 2}, {"HEAD", 2},
	}
	for _, tt := range tests {
		before := rec.hits.Load()
		req, _ := http.NewRequest(tt.method, "http://"+f.addr+"/octet/x", strings.NewReader("b"))
		if tt.method == "GET" || tt.method == "HEAD" || tt.method == "OPTIONS" || tt.method == "DELETE" {
			req, _ = http.NewRequest(tt.method, "http://"+f.addr+"/octet/x", nil)
		}
		resp, _ := do(t, c, req)
		if resp.StatusCode != 502 {
			t.Errorf("%s: status %d, want 502", tt.method, resp.StatusCode)
		}
		if got := rec.hits.Load() - before; got != tt.hits {
			t.Errorf("%s reached the upstream %d times, want %d", tt.method, got, tt.hits)
		}
	}
}

func TestMTLSConfig(t *testing.T) {
	pki := newTestPKI(t)
	tests := []struct {
		name             string
		ca, cert, key    string
		wantErr          error
		wantErrSubstring string
	}{
		{"none", "", "", "", nil, ""},
		{"all", pki.caFile, pki.certFile, pki.keyFile, nil, ""},
		{"only CA", pki.caFile, "", "", ErrPartialMTLS, "OCTET_CA_FILE"},
		{"no key", pki.caFile, pki.certFile, "", ErrPartialMTLS, "EDGE_CLIENT_KEY_FILE"},
		{"no CA", "", pki.certFile, pki.keyFile, ErrPartialMTLS, ""},
		{"missing CA file", pki.caFile + ".missing", pki.certFile, pki.keyFile, nil, "reading OCTET_CA_FILE"},
		{"key is not a key", pki.caFile, pki.certFile, pki.caFile, nil, "EDGE_CLIENT_KEY_FILE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{URL: "https://127.0.0.1:1", CAFile: tt.ca, ClientCertFile: tt.cert, ClientKeyFile: tt.key}
			_, err := New(cfg)
			_, err2 := NewConnector(Config{URL: cfg.URL, CAFile: tt.ca, ClientCertFile: tt.cert, ClientKeyFile: tt.key})
			if (err == nil) != (err2 == nil) {
				t.Errorf("New: %v, NewConnector: %v", err, err2)
			}
			switch {
			case tt.wantErr == nil && tt.wantErrSubstring == "":
				if err != nil {
					t.Fatalf("New: %v", err)
				}
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Fatalf("New: %v, want %v", err, tt.wantErr)
			case err == nil || !strings.Contains(err.Error(), tt.wantErrSubstring):
				t.Fatalf("New: %v, want an error naming %q", err, tt.wantErrSubstring)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want error
	}{
		{"no URL", Config{}, ErrNoURL},
		{"ftp", Config{URL: "ftp://x"}, ErrBadURL},
		{"no host", Config{URL: "https://"}, ErrBadURL},
		{"empty route", Config{URL: "http://x", Routes: []Route{{}}}, ErrBadRoute},
		{"relative prefix", Config{URL: "http://x", Routes: []Route{{PathPrefix: "octet"}}}, ErrBadRoute},
		{"bad header", Config{URL: "http://x", LicenseHeader: "X License"}, ErrBadHeaderName},
		{"negative", Config{URL: "http://x", Timeout: -1}, ErrBadLimit},
	}
	for _, tt := range tests {
		if _, err := New(tt.cfg); !errors.Is(err, tt.want) {
			t.Errorf("%s: New = %v, want %v", tt.name, err, tt.want)
		}
	}
}

// TestMTLSForward: against an upstream that requires a client certificate,
// the relay with the three files gets through; without them it gets 502.
func TestMTLSForward(t *testing.T) {
	rec := newRecorder(t, true)
	pki := newTestPKI(t)
	withCert := newTestRelay(t, rec, func(c *Config) {
		c.TLS = nil
		c.CAFile, c.ClientCertFile, c.ClientKeyFile = pki.caFile, pki.certFile, pki.keyFile
	})
	without := newTestRelay(t, rec, nil)
	for _, tt := range []struct {
		name   string
		r      *Relay
		status int
	}{{"with client certificate", withCert, 200}, {"without", without, 502}} {
		f := startFront(t, tt.r, nil, false)
		req, _ := http.NewRequest("GET", "http://"+f.addr+"/octet/m", nil)
		if resp, body := do(t, httpClient(false, nil), req); resp.StatusCode != tt.status {
			t.Errorf("%s: status %d, want %d (%s)", tt.name, resp.StatusCode, tt.status, body)
		}
	}
	reqs := rec.requests()
	if len(reqs) != 1 || !reqs[0].ClientCert {
		t.Fatalf("upstream saw %+v, want one request with a client certificate", reqs)
	}
}

// TestKeepAlive: consecutive requests reuse one upstream connection.
func TestKeepAlive(t *testing.T) {
	rec := newRecorder(t, false)
	r := newTestRelay(t, rec, nil)
	f := startFront(t, r, nil, false)
	conn, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	for i := range 5 {
		_, _ = io.WriteString(conn, "GET /octet/k HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("request %d: status %d", i, resp.StatusCode)
		}
	}
	if n := r.hc.ConnsCount(); n != 1 {
		t.Errorf("upstream connections: %d, want 1", n)
	}
}

// TestForgedHeadersWithoutNormalizing: behind a server that keeps header
// names as sent, forged signal, licence and forwarding headers in any case
// still never arrive.
func TestForgedHeadersWithoutNormalizing(t *testing.T) {
	rec := newRecorder(t, false)
	r := newTestRelay(t, rec, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := plainFront(r)
	srv.DisableHeaderNamesNormalizing = true
	go func() { _ = srv.Serve(&signalListener{Listener: ln}) }()
	defer func() { _ = srv.Shutdown() }()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, _ = io.WriteString(conn, "HEAD /octet/h HTTP/1.1\r\nHost: x\r\nx-brink-signal: v1 forged\r\nX-BRINK-SIGNAL: v1 forged2\r\n"+
		"x-license-key: stolen\r\nx-forwarded-for: 6.6.6.6\r\nx-real-ip: 6.6.6.6\r\nExpect: 100-continue\r\n\r\n")
	br := bufio.NewReader(conn)
	var resp *http.Response
	for resp == nil || resp.StatusCode == 100 { // the front may answer the Expect first
		if resp, err = http.ReadResponse(br, &http.Request{Method: "HEAD"}); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	reqs := rec.requests()
	if len(reqs) != 1 {
		t.Fatalf("upstream saw %d requests", len(reqs))
	}
	h := reqs[0].Header
	if v := h.Values("X-Brink-Signal"); len(v) != 1 || strings.Contains(v[0], "forged") {
		t.Errorf("signal headers %q", v)
	}
	if v := h.Values("X-License-Key"); len(v) != 1 || v[0] != testLicense {
		t.Errorf("licence headers %q", v)
	}
	if v := h.Values("X-Forwarded-For"); len(v) != 1 || v[0] != "127.0.0.1" {
		t.Errorf("X-Forwarded-For %q", v)
	}
	if v := h.Values("X-Real-Ip"); len(v) != 0 {
		t.Errorf("X-Real-Ip %q", v)
	}
	if v := h.Values("Expect"); len(v) != 0 {
		t.Errorf("Expect %q", v)
	}
}

// TestStreamResponses: with StreamResponses, a large answer streams
// through and the upstream connection goes back to the pool afterwards.
func TestStreamResponses(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write(big) // chunked: no Content-Length
	}), ErrorLog: nil}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	r, err := New(Config{URL: "http://" + ln.Addr().String(), StreamResponses: true, MaxResponseBytes: 1024,
		Routes: []Route{{PathPrefix: "/"}}})
	if err != nil {
		t.Fatal(err)
	}
	f := startFront(t, r, nil, false)
	c := httpClient(true, nil)
	for i := range 3 {
		req, _ := http.NewRequest("GET", "http://"+f.addr+"/big", nil)
		resp, body := do(t, c, req)
		if resp.StatusCode != 200 || body != string(big) {
			t.Fatalf("request %d: status %d, %d bytes", i, resp.StatusCode, len(body))
		}
	}
	if n := r.hc.ConnsCount(); n != 1 {
		t.Errorf("upstream connections after 3 streamed answers: %d, want 1", n)
	}
}

// TestAnswerTooLarge: a buffered answer over MaxResponseBytes is a 502.
func TestAnswerTooLarge(t *testing.T) {
	rec := newRecorder(t, false)
	r := newTestRelay(t, rec, func(c *Config) { c.MaxResponseBytes = 8 })
	f := startFront(t, r, nil, false)
	req, _ := http.NewRequest("GET", "http://"+f.addr+"/octet/x", nil)
	if resp, body := do(t, httpClient(false, nil), req); resp.StatusCode != 502 || body != `{"error":"upstream answer too large"}` {
		t.Fatalf("status %d body %q", resp.StatusCode, body)
	}
}

func TestHasDotSegment(t *testing.T) {
	for p, want := range map[string]bool{
		"/":                 false,
		"/a/b.c":            false,
		"/a/..b/c":          false,
		"/a/...":            false,
		"/v1.2/x?q=/../":    false,
		"/%2e%2eb":          false,
		"/..":               true,
		"/../admin":         true,
		"/a/./b":            true,
		"/a/.":              true,
		"/a/%2e%2e/b":       true,
		"/a/%2E./b":         true,
		"/a/.%2e":           true,
		"/octet/a/../../x":  true,
		"/x/%2e?q":          true,
		"":                  false,
		"/a/b/c/d/e/f/g/h/": false,
	} {
		if got := hasDotSegment([]byte(p)); got != want {
			t.Errorf("hasDotSegment(%q) = %v, want %v", p, got, want)
		}
	}
}

// TestHandleRefusesDotSegments: a path with a dot segment is answered 400
// and never forwarded: under the upstream's base path an upstream that
// resolves it would serve a path outside that base.
func TestHandleRefusesDotSegments(t *testing.T) {
	rec := newRecorder(t, false)
	r := newTestRelay(t, rec, func(c *Config) { c.URL = rec.url() + "/api" })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: r.Handle} // Handle for every path, as brink relay does
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	for _, p := range []string{"/../admin", "/a/%2e%2E/admin", "/./x"} {
		nc, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.WriteString(nc, "GET "+p+" HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n")
		_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		b, _ := io.ReadAll(nc)
		_ = nc.Close()
		if !strings.HasPrefix(string(b), "HTTP/1.1 400") || !strings.Contains(string(b), "dot segment") {
			t.Errorf("GET %s: %q, want 400 naming the dot segment", p, b)
		}
	}
	if reqs := rec.requests(); len(reqs) != 0 {
		t.Fatalf("the upstream received %+v", reqs)
	}
}
