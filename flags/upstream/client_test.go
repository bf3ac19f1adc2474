package upstream

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/brink-edge/brink/flags"
	"software.sslmate.com/src/go-pkcs12"
)

const (
	tokDev   = "*:development.0123456789abcdef0123456789abcdef"
	tokProd  = "*:production.0123456789abcdef0123456789abcdef"
	tokDevA  = "alpha:development.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	tokDevB  = "beta:development.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	tokFront = "*:development.ffffffffffffffffffffffffffffffff"
	tokBad   = "*:development.not-a-valid-secret-at-all-000000"
)

func TestClientFetchFeaturesHeadersAndETag(t *testing.T) {
	f := newFakeUnleash(t)
	f.addToken(tokDev, flags.TokenClient)
	f.setFeature("development", feature("a", "default", true))
	c := newTestClient(t, f.srv.URL+"/", func(cfg *ClientConfig) {
		cfg.CustomHeaders = []string{"X-Api-Key: secret", " X-Other :  v "}
		cfg.AppName, cfg.InstanceID, cfg.ConnectionID = "app", "inst", "conn"
		cfg.Interval = 15 * time.Second
	})
	if c.URL() != f.srv.URL {
		t.Errorf("URL() = %q, want the trailing slash trimmed: %q", c.URL(), f.srv.URL)
	}
	ctx := context.Background()
	cf, raw, etag, notModified, err := c.FetchFeatures(ctx, tokDev, "")
	if err != nil || notModified || cf == nil || len(cf.Features) != 1 || len(raw) == 0 || etag == "" {
		t.Fatalf("FetchFeatures = %v, %d bytes, %q, %v, %v; want one feature and an ETag", cf, len(raw), etag, notModified, err)
	}
	var h http.Header
	f.get(func(f *fakeUnleash) { h = f.headers })
	want := map[string]string{
		"Authorization": tokDev, "Unleash-Interval": "15000", "Unleash-Appname": "app", "Unleash-Instanceid": "inst",
		"Unleash-Connection-Id": "conn", "Unleash-Client-Spec": "6.1.0", "User-Agent": "brink/1.2.3",
		"X-Api-Key": "secret", "X-Other": "v", "If-None-Match": "",
	}
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
	_, _, etag2, notModified, err := c.FetchFeatures(ctx, tokDev, etag)
	if err != nil || !notModified || etag2 != etag {
		t.Fatalf("FetchFeatures with ETag = %q, %v, %v; want 304 keeping %q", etag2, notModified, err, etag)
	}
	f.get(func(f *fakeUnleash) { h = f.headers })
	if h.Get("If-None-Match") != etag {
		t.Errorf("If-None-Match = %q, want %q", h.Get("If-None-Match"), etag)
	}
}

func TestClientStatusErrors(t *testing.T) {
	tests := []struct {
		code                       int
		denied, retriable, missing bool
	}{
		{401, true, false, false},
		{403, true, false, false},
		{404, false, false, true},
		{429, false, true, false},
		{500, false, true, false},
		{503, false, true, false},
		{400, false, false, false},
	}
	for _, tt := range tests {
		f := newFakeUnleash(t)
		f.set(func(f *fakeUnleash) { f.status["/api/client/features"] = tt.code })
		c := newTestClient(t, f.srv.URL, nil)
		_, _, _, _, err := c.FetchFeatures(context.Background(), tokDev, "")
		var se *StatusError
		if !errors.As(err, &se) || se.Code != tt.code {
			t.Fatalf("FetchFeatures with %d: err = %v, want a *StatusError", tt.code, err)
		}
		if errors.Is(err, ErrDenied) != tt.denied || errors.Is(err, ErrRetriable) != tt.retriable || errors.Is(err, ErrNotFound) != tt.missing {
			t.Errorf("status %d: Is(ErrDenied, ErrRetriable, ErrNotFound) = %v, %v, %v; want %v, %v, %v", tt.code,
				errors.Is(err, ErrDenied), errors.Is(err, ErrRetriable), errors.Is(err, ErrNotFound), tt.denied, tt.retriable, tt.missing)
		}
	}
}

func TestClientValidateTokensIsTolerant(t *testing.T) {
	var auth atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth.Store(r.Header.Get("Authorization") + "|" + r.URL.Path)
		_, _ = io.WriteString(w, `{"tokens":[
			{"token":"a:dev.1","type":"backend","environment":"dev","projects":["a"]},
			{"token":"b:dev.2","type":"CLIENT","projects":[]},
			{"token":"*:dev.3","type":"Frontend","environment":"dev","projects":["*"],"status":"Validated"},
			{"token":"*:dev.4","type":"client","environment":"dev","projects":["*"],"status":"Invalid"},
			{"token":"*:dev.5","type":"mystery","environment":"dev","projects":["*"]}]}`)
	}))
	defer srv.Close()
	c := newTestClient(t, srv.URL, nil)
	got, err := c.ValidateTokens(context.Background(), []string{"a:dev.1", "b:dev.2", "*:dev.3", "*:dev.4", "*:dev.5"})
	if err != nil {
		t.Fatal(err)
	}
	if a := auth.Load().(string); a != "|/edge/validate" {
		t.Errorf("validate request auth|path = %q, want no token on /edge/validate", a)
	}
	want := []flags.Token{
		{Raw: "a:dev.1", Type: flags.TokenClient, Environment: "dev", Projects: []string{"a"}, Status: flags.TokenValidated},
		{Raw: "b:dev.2", Type: flags.TokenClient, Environment: "dev", Projects: []string{"b"}, Status: flags.TokenValidated},
		{Raw: "*:dev.3", Type: flags.TokenFrontend, Environment: "dev", Projects: []string{"*"}, Status: flags.TokenValidated},
	}
	gj, _ := json.Marshal(got)
	wj, _ := json.Marshal(want)
	if string(gj) != string(wj) {
		t.Errorf("ValidateTokens =\n%s\nwant\n%s", gj, wj)
	}
}

func TestNewClientRejectsBadConfig(t *testing.T) {
	dir := t.TempDir()
	garbage := writeTemp(t, "garbage.pem", []byte("not a certificate"))
	tests := []struct {
		name string
		cfg  ClientConfig
		want string
	}{
		{"no URL", ClientConfig{}, "no upstream URL"},
		{"bad scheme", ClientConfig{URL: "ftp://x"}, "not http"},
		{"bad header", ClientConfig{URL: "http://x", CustomHeaders: []string{"NoColon"}}, "Name: value"},
		{"missing CA", ClientConfig{URL: "http://x", UpstreamCAFile: dir + "/none.pem"}, "reading the upstream certificate file"},
		{"garbage CA", ClientConfig{URL: "http://x", UpstreamCAFile: garbage}, "holds no PEM certificate"},
		{"cert without key", ClientConfig{URL: "http://x", ClientCertFile: garbage}, "both the certificate file and the key file"},
		{"garbage cert", ClientConfig{URL: "http://x", ClientCertFile: garbage, ClientKeyFile: garbage}, "loading the client certificate"},
		{"missing p12", ClientConfig{URL: "http://x", PKCS12File: dir + "/none.p12"}, "reading the PKCS#12 identity"},
		{"garbage p12", ClientConfig{URL: "http://x", PKCS12File: garbage}, "decoding the PKCS#12 identity"},
		{"both identities", ClientConfig{URL: "http://x", PKCS12File: garbage, ClientCertFile: garbage}, "exclusive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewClient(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewClient(%s) error = %v, want one containing %q", tt.name, err, tt.want)
			}
		})
	}
}

// testCert makes a self-signed certificate (a CA when isCA) and its key.
func testCert(t *testing.T, cn string, isCA bool) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"127.0.0.1"}, IPAddresses: nil, IsCA: isCA, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// TestClientMutualTLS runs the client against a TLS upstream that
// requires a client certificate, trusting it through UpstreamCAFile and
// presenting a PKCS#8 pair, then a PKCS#12 identity.
func TestClientMutualTLS(t *testing.T) {
	clientCert, clientKey := testCert(t, "brink-client", true)
	var seen atomic.Value
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TLS.PeerCertificates) > 0 {
			seen.Store(r.TLS.PeerCertificates[0].Subject.CommonName)
		}
		_, _ = io.WriteString(w, `{"tokens":[]}`)
	}))
	pool := x509.NewCertPool()
	pool.AddCert(clientCert)
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	srv.StartTLS()
	defer srv.Close()
	caFile := writeTemp(t, "upstream.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))

	keyDER, err := x509.MarshalPKCS8PrivateKey(clientKey)
	if err != nil {
		t.Fatal(err)
	}
	certFile := writeTemp(t, "client.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: clientCert.Raw}))
	keyFile := writeTemp(t, "client.key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
	p12, err := pkcs12.Modern.Encode(clientKey, clientCert, nil, "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	p12File := writeTemp(t, "client.p12", p12)

	for name, mod := range map[string]func(*ClientConfig){
		"pkcs8":  func(c *ClientConfig) { c.ClientCertFile, c.ClientKeyFile = certFile, keyFile },
		"pkcs12": func(c *ClientConfig) { c.PKCS12File, c.PKCS12Passphrase = p12File, "s3cret" },
	} {
		t.Run(name, func(t *testing.T) {
			seen.Store("")
			c := newTestClient(t, srv.URL, func(c *ClientConfig) { c.UpstreamCAFile = caFile; mod(c) })
			if _, err := c.ValidateTokens(context.Background(), []string{tokDev}); err != nil {
				t.Fatalf("ValidateTokens over mutual TLS: %v", err)
			}
			if got := seen.Load(); got != "brink-client" {
				t.Errorf("upstream saw client certificate %q, want brink-client", got)
			}
		})
	}
	t.Run("no client certificate", func(t *testing.T) {
		c := newTestClient(t, srv.URL, func(c *ClientConfig) { c.UpstreamCAFile = caFile })
		if _, err := c.ValidateTokens(context.Background(), []string{tokDev}); err == nil {
			t.Error("ValidateTokens without a client certificate succeeded")
		}
	})
	t.Run("untrusted upstream", func(t *testing.T) {
		c := newTestClient(t, srv.URL, func(c *ClientConfig) { c.PKCS12File, c.PKCS12Passphrase = p12File, "s3cret" })
		if _, err := c.ValidateTokens(context.Background(), []string{tokDev}); err == nil {
			t.Error("ValidateTokens trusted an unknown upstream certificate")
		}
	})
	t.Run("wrong passphrase", func(t *testing.T) {
		if _, err := NewClient(ClientConfig{URL: srv.URL, PKCS12File: p12File, PKCS12Passphrase: "nope"}); err == nil {
			t.Error("NewClient accepted a wrong PKCS#12 passphrase")
		}
	})
}

func TestClientStream(t *testing.T) {
	var mode atomic.Value
	var lastID atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lastID.Store(r.Header.Get("Last-Event-ID"))
		switch mode.Load().(string) {
		case "404":
			w.WriteHeader(http.StatusNotFound)
		case "json":
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, "{}")
		case "silent":
			w.Header().Set("Content-Type", "text/event-stream")
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		case "events":
			w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
			_, _ = io.WriteString(w, "event: unleash-connected\nid: 3\ndata: {\"events\":[]}\n\n:keep-alive\n\nevent: unleash-updated\nid: 4\ndata: {}\n\n")
		}
	}))
	defer srv.Close()
	c := newTestClient(t, srv.URL, func(c *ClientConfig) { c.StreamIdleTimeout = 200 * time.Millisecond })
	ctx := context.Background()

	mode.Store("events")
	var seen []string
	err := c.Stream(ctx, tokDev, "2", func(event, id string, data []byte) { seen = append(seen, event+"#"+id) })
	if !errors.Is(err, ErrStreamEnded) || strings.Join(seen, ",") != "unleash-connected#3,unleash-updated#4" || lastID.Load() != "2" {
		t.Errorf("Stream = %v, events %v, Last-Event-ID %q; want ErrStreamEnded after 2 events, resuming from 2", err, seen, lastID.Load())
	}
	mode.Store("404")
	if err := c.Stream(ctx, tokDev, "", func(string, string, []byte) {}); !isNoStreaming(err) || !errors.Is(err, ErrNotFound) {
		t.Errorf("Stream on 404 = %v, want a 404 *StatusError", err)
	}
	mode.Store("json")
	if err := c.Stream(ctx, tokDev, "", func(string, string, []byte) {}); !errors.Is(err, ErrNotEventStream) {
		t.Errorf("Stream on JSON = %v, want ErrNotEventStream", err)
	}
	mode.Store("silent")
	start := time.Now()
	if err := c.Stream(ctx, tokDev, "", func(string, string, []byte) {}); !errors.Is(err, ErrStreamIdle) || time.Since(start) > 5*time.Second {
		t.Errorf("Stream on a silent upstream = %v after %v, want ErrStreamIdle after the idle timeout", err, time.Since(start))
	}
}

func TestClientFetchDelta(t *testing.T) {
	f := newFakeUnleash(t)
	f.addToken(tokDev, flags.TokenClient)
	f.setFeature("development", feature("a", "default", true))
	c := newTestClient(t, f.srv.URL, nil)
	ctx := context.Background()
	d, id, nm, err := c.FetchDelta(ctx, tokDev, 0)
	if err != nil || nm || len(d.Events) != 1 || d.Events[0].Type != flags.DeltaHydration || id != 1 {
		t.Fatalf("FetchDelta(0) = %+v, %d, %v, %v; want a hydration at id 1", d, id, nm, err)
	}
	if _, id2, nm, err := c.FetchDelta(ctx, tokDev, id); err != nil || !nm || id2 != id {
		t.Fatalf("FetchDelta(%d) = %d, %v, %v; want 304", id, id2, nm, err)
	}
	f.setFeature("development", feature("b", "default", true))
	d, id, _, err = c.FetchDelta(ctx, tokDev, 1)
	if err != nil || len(d.Events) != 1 || d.Events[0].Type != flags.DeltaFeatureUpdated || id != 2 {
		t.Fatalf("FetchDelta(1) = %+v, %d, %v; want one update at id 2", d, id, err)
	}
}

func TestClientRegisterAndPosts(t *testing.T) {
	var paths []string
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		paths = append(paths, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization"))
		bodies = append(bodies, string(b))
		if r.URL.Path == "/api/client/metrics/edge" {
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	c := newTestClient(t, srv.URL, func(c *ClientConfig) { c.AppName = "edge-app"; c.Interval = 10 * time.Second })
	ctx := context.Background()
	tok, _ := flags.ParseToken(tokDev)
	if err := c.Register(ctx, tokDev, c.Registration(tok, time.Unix(0, 0))); err != nil {
		t.Fatal(err)
	}
	if st, err := c.PostBulkMetrics(ctx, tokDev, []byte(`{"applications":[],"metrics":[]}`)); st != 202 || err != nil {
		t.Errorf("PostBulkMetrics = %d, %v; want 202", st, err)
	}
	if st, err := c.PostInstanceData(ctx, tokDev, []byte(`{}`)); st != 429 || !errors.Is(err, ErrRetriable) {
		t.Errorf("PostInstanceData = %d, %v; want 429 and a retriable error", st, err)
	}
	wantPaths := []string{"POST /api/client/register " + tokDev, "POST /api/client/metrics/bulk " + tokDev, "POST /api/client/metrics/edge " + tokDev}
	if strings.Join(paths, "\n") != strings.Join(wantPaths, "\n") {
		t.Errorf("requests =\n%s\nwant\n%s", strings.Join(paths, "\n"), strings.Join(wantPaths, "\n"))
	}
	var app map[string]any
	if err := json.Unmarshal([]byte(bodies[0]), &app); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]any{"appName": "edge-app", "sdkVersion": "brink:1.2.3", "sdkType": "backend", "environment": "development", "interval": 10000.0} {
		if app[k] != v {
			t.Errorf("registration %s = %v, want %v (body %s)", k, app[k], v, bodies[0])
		}
	}
}
