package e2e

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const relayLicense = "lic-e2e-secret"

// upstreamRequest is one forwarded request the recording upstream saw.
type upstreamRequest struct {
	method, uri string
	header      http.Header
	bodyLen     int
}

// ingestBatch is one POST of signal records.
type ingestBatch struct {
	key     string
	license string
	remotes []string
	records []json.RawMessage
}

// recordingUpstream is the Octet upstream: HTTPS that requires a client
// certificate from its client CA, recording forwarded requests and signal
// batches. It can be stopped and restarted on the same port.
type recordingUpstream struct {
	t        *testing.T
	addr     string
	tlsCfg   *tls.Config
	mu       sync.Mutex
	page     []byte // served at GET / (set with setPage)
	srv      *http.Server
	requests []upstreamRequest
	batches  []ingestBatch
}

func newRecordingUpstream(t *testing.T, serverCert tls.Certificate, clientCA *testCA) *recordingUpstream {
	u := &recordingUpstream{t: t, tlsCfg: &tls.Config{
		Certificates: []tls.Certificate{serverCert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    clientCA.pool,
		NextProtos:   []string{"http/1.1"},
	}}
	u.start()
	t.Cleanup(u.stop)
	return u
}

// start listens (on the same port after the first time) and serves.
func (u *recordingUpstream) start() {
	u.t.Helper()
	addr := u.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ {
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		u.t.Fatalf("upstream listen %s: %v", addr, err)
	}
	u.addr = ln.Addr().String()
	srv := &http.Server{Handler: http.HandlerFunc(u.serve), TLSConfig: u.tlsCfg, ReadHeaderTimeout: 5 * time.Second,
		ErrorLog: nil}
	u.mu.Lock()
	u.srv = srv
	u.mu.Unlock()
	go srv.Serve(tls.NewListener(ln, u.tlsCfg))
}

// stop closes the listener and every connection.
func (u *recordingUpstream) stop() {
	u.mu.Lock()
	srv := u.srv
	u.srv = nil
	u.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

// setPage sets the HTML served at GET /.
func (u *recordingUpstream) setPage(p []byte) {
	u.mu.Lock()
	u.page = p
	u.mu.Unlock()
}

func (u *recordingUpstream) url() string { return "https://" + u.addr }

func (u *recordingUpstream) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost && r.URL.Path == "/ingest/signals" {
		u.ingest(w, r)
		return
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	u.mu.Lock()
	u.requests = append(u.requests, upstreamRequest{method: r.Method, uri: r.RequestURI, header: r.Header.Clone(), bodyLen: len(body)})
	page := u.page
	u.mu.Unlock()
	switch r.URL.Path {
	case "/":
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(page)
	case "/slow":
		select {
		case <-time.After(3 * time.Second):
		case <-r.Context().Done():
		}
		io.WriteString(w, "late")
	default:
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"path":    r.URL.Path,
			"signals": r.Header.Values("X-Brink-Signal"),
			"license": r.Header.Get("X-License-Key"),
		})
	}
}

func (u *recordingUpstream) ingest(w http.ResponseWriter, r *http.Request) {
	b := ingestBatch{key: r.Header.Get("Idempotency-Key"), license: r.Header.Get("X-License-Key")}
	var rd io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rd = zr
	}
	remotes, recs, err := parseRecords(rd)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	b.remotes, b.records = remotes, recs
	u.mu.Lock()
	u.batches = append(u.batches, b)
	u.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// parseRecords reads NDJSON signal records.
func parseRecords(rd io.Reader) ([]string, []json.RawMessage, error) {
	var remotes []string
	var recs []json.RawMessage
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var rec struct {
			Remote string          `json:"remote"`
			Signal json.RawMessage `json:"signal"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return nil, nil, fmt.Errorf("record %q: %v", sc.Text(), err)
		}
		remotes = append(remotes, rec.Remote)
		recs = append(recs, rec.Signal)
	}
	return remotes, recs, sc.Err()
}

func (u *recordingUpstream) snapshot() ([]upstreamRequest, []ingestBatch) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]upstreamRequest(nil), u.requests...), append([]ingestBatch(nil), u.batches...)
}

// relaySetup is the certificates and files of one relay test.
type relaySetup struct {
	dir        string
	brinkCA    *testCA // signs brink's server certificate (clients trust it)
	upstreamCA *testCA // signs the upstream's certificate (OCTET_CA_FILE)
	clientCA   *testCA // signs brink's client certificate
	brinkCert  leaf
	client     leaf
	up         *recordingUpstream
	spool      string
}

func newRelaySetup(t *testing.T) *relaySetup {
	t.Helper()
	dir := t.TempDir()
	s := &relaySetup{dir: dir, spool: filepath.Join(dir, "spool")}
	s.brinkCA = newTestCA(t, dir, "brink")
	s.upstreamCA = newTestCA(t, dir, "upstream")
	s.clientCA = newTestCA(t, dir, "client")
	s.brinkCert = s.brinkCA.issue(t, dir, "brink-server", 40, "octet.test", "127.0.0.1")
	s.client = s.clientCA.issue(t, dir, "brink-client", 41, "brink-edge")
	upCert := s.upstreamCA.issue(t, dir, "upstream-server", 42, "127.0.0.1")
	s.up = newRecordingUpstream(t, upCert.pair, s.clientCA)
	return s
}

// env is brink relay's environment, the seed's names, plus extra.
func (s *relaySetup) env(port int, extra ...string) []string {
	return append([]string{
		"PORT=" + strconv.Itoa(port), "INTERFACE=127.0.0.1",
		"OCTET_URL=" + s.up.url(), "LICENSE=" + relayLicense,
		"EDGE_TLS_CERT_FILE=" + s.brinkCert.certPath, "EDGE_TLS_KEY_FILE=" + s.brinkCert.keyPath,
		"OCTET_CA_FILE=" + s.upstreamCA.pemPath,
		"EDGE_CLIENT_CERT_FILE=" + s.client.certPath, "EDGE_CLIENT_KEY_FILE=" + s.client.keyPath,
		"BRINK_RELAY__SPOOL_DIR=" + s.spool,
		"BRINK_RELAY__FLUSH_INTERVAL=200ms",
	}, extra...)
}

// startRelay starts brink relay on port and waits for /health.
func (s *relaySetup) startRelay(t *testing.T, port int, extra ...string) *brink {
	t.Helper()
	b := startProc(t, procOptions{args: []string{"relay"}, env: s.env(port, extra...),
		ready: tlsReady("127.0.0.1:"+strconv.Itoa(port), s.brinkCA.pool, "octet.test", "/health")})
	b.port = port
	b.url = "https://octet.test:" + strconv.Itoa(port)
	return b
}

// dial opens a TLS connection to brink as octet.test.
func (s *relaySetup) dial(t *testing.T, port int) *tls.Conn {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", "127.0.0.1:"+strconv.Itoa(port),
		&tls.Config{RootCAs: s.brinkCA.pool, ServerName: "octet.test"})
	if err != nil {
		t.Fatalf("TLS to brink: %v", err)
	}
	return c
}

// request sends raw on a new connection and returns the answer's status,
// headers and body, and the connection's local address.
func (s *relaySetup) request(t *testing.T, port int, raw string) (*http.Response, []byte, string) {
	t.Helper()
	c := s.dial(t, port)
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatalf("write: %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading brink's answer to %q: %v", tail(raw, 200), err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body, c.LocalAddr().String()
}

// relaySignal is the decoded X-Brink-Signal (connsig JSON).
type relaySignal struct {
	tlsSignal
	HandshakeRttUs int64 `json:"handshakeRttUs"`
}

// decodeSignalHeader reads "v1 <base64url JSON>".
func decodeSignalHeader(v string) (relaySignal, error) {
	var s relaySignal
	ver, enc, ok := strings.Cut(v, " ")
	if !ok || ver != "v1" {
		return s, fmt.Errorf("X-Brink-Signal %q: not \"v1 <base64url>\"", tail(v, 100))
	}
	raw, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		return s, fmt.Errorf("X-Brink-Signal: base64url: %v", err)
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return s, fmt.Errorf("X-Brink-Signal JSON %s: %v", raw, err)
	}
	if s.Version != 1 {
		return s, fmt.Errorf("X-Brink-Signal JSON version %d, want 1", s.Version)
	}
	return s, nil
}

// checkRTT checks the RTT fields: tcpRttUs always, handshakeRttUs when
// eBPF measured the handshake (the fallback leaves it 0 by design).
func checkRTT(t *testing.T, who string, s relaySignal) {
	t.Helper()
	if s.TCPRttUs <= 0 {
		t.Errorf("%s: tcpRttUs %d, want > 0", who, s.TCPRttUs)
	}
	if s.TimingSource == "ebpf" && s.HandshakeRttUs <= 0 {
		t.Errorf("%s: handshakeRttUs %d with eBPF timing, want > 0", who, s.HandshakeRttUs)
	}
}

// TestRelayForward: requests through brink relay reach the mTLS upstream
// with the licence, X-Forwarded-*, and brink's own signal, never the
// client's forged ones; /health reports; a slow upstream gets 504.
func TestRelayForward(t *testing.T) {
	t.Parallel()
	s := newRelaySetup(t)
	port := freePorts(t, 1)[0]
	s.startRelay(t, port, "BRINK_RELAY__TIMEOUT=300ms")

	resp, body, local := s.request(t, port, "GET /api/echo?q=1 HTTP/1.1\r\nHost: octet.test\r\n"+
		"X-Brink-Signal: v1 forged\r\nX-License-Key: stolen\r\nX-Forwarded-For: 203.0.113.9\r\nX-Forwarded-Proto: http\r\n\r\n")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("forwarded GET: %d %s", resp.StatusCode, body)
	}
	reqs, _ := s.up.snapshot()
	var got *upstreamRequest
	for i := range reqs {
		if reqs[i].uri == "/api/echo?q=1" {
			got = &reqs[i]
		}
	}
	if got == nil {
		t.Fatalf("the upstream did not receive /api/echo?q=1; it saw %v", reqs)
	}
	h := got.header
	if v := h.Values("X-License-Key"); len(v) != 1 || v[0] != relayLicense {
		t.Errorf("licence header %q, want exactly [%q]", v, relayLicense)
	}
	if v := h.Values("X-Forwarded-For"); len(v) != 1 || v[0] != "127.0.0.1" {
		t.Errorf("X-Forwarded-For %q, want [127.0.0.1] (the client's own value replaced)", v)
	}
	if v := h.Get("X-Forwarded-Proto"); v != "https" {
		t.Errorf("X-Forwarded-Proto %q, want https", v)
	}
	sigs := h.Values("X-Brink-Signal")
	if len(sigs) != 1 {
		t.Fatalf("X-Brink-Signal values %q, want exactly brink's one", sigs)
	}
	sig, err := decodeSignalHeader(sigs[0])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sig.JA4, "t13d") || sig.TLSVersion != "1.3" || sig.SNI != "octet.test" || sig.TLSHandshakeUs <= 0 {
		t.Errorf("signal ja4 %q tlsVersion %q sni %q tlsHandshakeUs %d; want t13d…, 1.3, octet.test, > 0",
			sig.JA4, sig.TLSVersion, sig.SNI, sig.TLSHandshakeUs)
	}
	checkRTT(t, "forwarded signal", sig)
	if !strings.Contains(string(body), `"license":"`+relayLicense+`"`) {
		t.Errorf("echo %s", body)
	}

	t.Run("records", func(t *testing.T) {
		// The connection's record reaches the ingest endpoint with the licence.
		waitRemotes(t, s.up, []string{local}, 10*time.Second)
		_, batches := s.up.snapshot()
		for _, b := range batches {
			if b.license != relayLicense || b.key == "" {
				t.Errorf("batch %q: licence %q, want %q and an Idempotency-Key", b.key, b.license, relayLicense)
			}
		}
	})

	t.Run("health", func(t *testing.T) {
		resp, body, _ := s.request(t, port, "GET /health HTTP/1.1\r\nHost: octet.test\r\n\r\n")
		var hl struct {
			OK       bool   `json:"ok"`
			Version  string `json:"version"`
			Capture  string `json:"capture"`
			Upstream struct {
				URL       string `json:"url"`
				Reachable bool   `json:"reachable"`
			} `json:"upstream"`
			Spool *struct {
				Files int   `json:"files"`
				Bytes int64 `json:"bytes"`
			} `json:"spool"`
		}
		if err := json.Unmarshal(body, &hl); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("/health: %d %s %v", resp.StatusCode, body, err)
		}
		want := os.Getenv("BRINK_SIGNAL_CAPTURE")
		if !hl.OK || hl.Version == "" || hl.Capture != want || !hl.Upstream.Reachable || hl.Spool == nil || hl.Upstream.URL == "" {
			t.Errorf("/health %s: want ok, a version, capture %q, upstream reachable, a spool depth", body, want)
		}
		if strings.Contains(string(body), relayLicense) {
			t.Errorf("/health shows the licence: %s", body)
		}
	})

	t.Run("post-body", func(t *testing.T) {
		payload := strings.Repeat("p", 3000)
		resp, body, _ := s.request(t, port, "POST /api/post HTTP/1.1\r\nHost: octet.test\r\nContent-Type: text/plain\r\nContent-Length: 3000\r\n\r\n"+payload)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST: %d %s", resp.StatusCode, body)
		}
		reqs, _ := s.up.snapshot()
		found := false
		for _, r := range reqs {
			if r.method == http.MethodPost && r.uri == "/api/post" {
				found = true
				if r.bodyLen != len(payload) {
					t.Errorf("POST body arrived with %d bytes, want %d", r.bodyLen, len(payload))
				}
			}
		}
		if !found {
			t.Errorf("the POST never reached the upstream")
		}
	})

	t.Run("504", func(t *testing.T) {
		resp, body, _ := s.request(t, port, "GET /slow HTTP/1.1\r\nHost: octet.test\r\n\r\n")
		var e struct {
			Error string `json:"error"`
		}
		if resp.StatusCode != http.StatusGatewayTimeout || json.Unmarshal(body, &e) != nil || e.Error == "" {
			t.Errorf("slow upstream: %d %s; want 504 with a JSON error", resp.StatusCode, body)
		}
	})
}

// TestRelayPartialMTLS: only some of the mutual-TLS files set is an error
// at start that names them.
func TestRelayPartialMTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := newTestCA(t, dir, "partial")
	code, out := runExit(t, []string{"relay"}, []string{"PORT=" + strconv.Itoa(freePorts(t, 1)[0]), "INTERFACE=127.0.0.1",
		"OCTET_URL=https://127.0.0.1:1", "LICENSE=x", "OCTET_CA_FILE=" + ca.pemPath,
		"EDGE_CLIENT_CERT_FILE=", "EDGE_CLIENT_KEY_FILE="})
	if code != 2 || !strings.Contains(out, "EDGE_CLIENT_CERT_FILE") || !strings.Contains(out, "EDGE_CLIENT_KEY_FILE") {
		t.Errorf("exit %d, want 2 and a message naming the missing EDGE_CLIENT_* files; output:\n%s", code, out)
	}
}

// connect opens n TLS connections to brink, each with one /health
// request, and returns their local addresses (the records' "remote").
func (s *relaySetup) connect(t *testing.T, port, n int) []string {
	t.Helper()
	var out []string
	for range n {
		resp, body, local := s.request(t, port, "GET /health HTTP/1.1\r\nHost: octet.test\r\nConnection: close\r\n\r\n")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("/health: %d %s", resp.StatusCode, body)
		}
		out = append(out, local)
	}
	return out
}

// waitRemotes waits until the upstream received a record of every remote.
func waitRemotes(t *testing.T, up *recordingUpstream, remotes []string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		_, batches := up.snapshot()
		seen := map[string]bool{}
		for _, b := range batches {
			for _, r := range b.remotes {
				seen[r] = true
			}
		}
		var missing []string
		for _, r := range remotes {
			if !seen[r] {
				missing = append(missing, r)
			}
		}
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d records never reached the upstream within %v, e.g. %v", len(missing), len(remotes), limit, missing[:min(5, len(missing))])
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkDuplicates: a record may arrive twice only in a batch re-sent with
// the same Idempotency-Key (and the same records).
func checkDuplicates(t *testing.T, batches []ingestBatch) {
	t.Helper()
	byKey := map[string]string{}
	keyOf := map[string]string{}
	for _, b := range batches {
		content := strings.Join(b.remotes, ",")
		if prev, ok := byKey[b.key]; ok && prev != content {
			t.Errorf("Idempotency-Key %q sent with different records", b.key)
		}
		byKey[b.key] = content
		for _, r := range b.remotes {
			if k, ok := keyOf[r]; ok && k != b.key {
				t.Errorf("record of %s arrived in batches %q and %q: a duplicate without a repeated Idempotency-Key", r, k, b.key)
			}
			keyOf[r] = b.key
		}
	}
}

// TestRelayUpstreamOutage stops the upstream mid-run, keeps connecting,
// restarts it: every connection's record arrives (duplicates only under a
// repeated Idempotency-Key). Then SIGTERM while the upstream is down
// leaves the rest in the spool, and the next brink delivers it.
func TestRelayUpstreamOutage(t *testing.T) {
	t.Parallel()
	s := newRelaySetup(t)
	port := freePorts(t, 1)[0]
	b := s.startRelay(t, port)
	all := s.connect(t, port, 10)

	s.up.stop()
	all = append(all, s.connect(t, port, 20)...)
	// A forwarded request meanwhile gets 502 with a JSON error.
	resp, body, local := s.request(t, port, "GET /api/echo HTTP/1.1\r\nHost: octet.test\r\n\r\n")
	all = append(all, local)
	var e struct {
		Error string `json:"error"`
	}
	if resp.StatusCode != http.StatusBadGateway || json.Unmarshal(body, &e) != nil || e.Error == "" {
		t.Errorf("upstream down: %d %s; want 502 with a JSON error", resp.StatusCode, body)
	}
	// Batches fail (flush every 200 ms) and go to the spool.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if n := len(spoolRemotes(t, s.spool)); n > 0 {
			t.Logf("%d records spooled during the outage", n)
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("nothing spooled 5s into the upstream's outage")
			break
		}
	}
	// /health reports the outage and the spool's depth.
	resp, body, local = s.request(t, port, "GET /health HTTP/1.1\r\nHost: octet.test\r\n\r\n")
	all = append(all, local)
	var hl struct {
		OK       bool `json:"ok"`
		Upstream struct {
			Reachable bool   `json:"reachable"`
			LastError string `json:"lastError"`
		} `json:"upstream"`
		Spool struct {
			Files int   `json:"files"`
			Bytes int64 `json:"bytes"`
		} `json:"spool"`
	}
	if err := json.Unmarshal(body, &hl); err != nil || resp.StatusCode != http.StatusOK || !hl.OK ||
		hl.Upstream.Reachable || hl.Upstream.LastError == "" || hl.Spool.Files == 0 || hl.Spool.Bytes == 0 {
		t.Errorf("/health during the outage: %d %s (%v); want ok, upstream unreachable with its error, spool files and bytes > 0", resp.StatusCode, body, err)
	}
	s.up.start()
	all = append(all, s.connect(t, port, 10)...)
	waitRemotes(t, s.up, all, 20*time.Second)
	_, batches := s.up.snapshot()
	checkDuplicates(t, batches)
	t.Logf("%d records over %d batch posts after one outage", len(all), len(batches))

	// Down again, then SIGTERM: what is unsent is spooled.
	waitSpoolEmpty(t, s.spool, 10*time.Second)
	s.up.stop()
	late := s.connect(t, port, 15)
	time.Sleep(300 * time.Millisecond)
	b.Stop(t)
	spooled := spoolRemotes(t, s.spool)
	for _, r := range late {
		if !spooled[r] {
			t.Errorf("record of %s is neither delivered nor spooled after SIGTERM (spool holds %d records)", r, len(spooled))
		}
	}
	// Spool file names carry the batch's Idempotency-Key
	// (<seq>-<records>-<key>.ndjson.gz); the re-sent batches keep it.
	var spooledKeys []string
	for _, p := range spoolFiles(t, s.spool) {
		parts := strings.SplitN(strings.TrimSuffix(filepath.Base(p), ".ndjson.gz"), "-", 3)
		if len(parts) != 3 {
			t.Fatalf("spool file name %s is not <seq>-<records>-<key>.ndjson.gz", p)
		}
		spooledKeys = append(spooledKeys, parts[2])
	}
	// The next brink sends the spool once the upstream is back.
	s.up.start()
	port2 := freePorts(t, 1)[0]
	s.startRelay(t, port2)
	waitRemotes(t, s.up, late, 20*time.Second)
	_, batches = s.up.snapshot()
	checkDuplicates(t, batches)
	sent := map[string]bool{}
	for _, b := range batches {
		sent[b.key] = true
	}
	for _, k := range spooledKeys {
		if !sent[k] {
			t.Errorf("spooled batch %q was delivered under another Idempotency-Key", k)
		}
	}
	waitSpoolEmpty(t, s.spool, 10*time.Second)
}

// spoolFiles lists the batch files of the spool folder.
func spoolFiles(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".ndjson.gz") && !strings.HasPrefix(e.Name(), ".") {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out
}

// spoolRemotes reads every record in the spool.
func spoolRemotes(t *testing.T, dir string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, p := range spoolFiles(t, dir) {
		f, err := os.Open(p)
		if os.IsNotExist(err) {
			continue // sent and removed since the listing
		}
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatalf("spool file %s: %v", p, err)
		}
		remotes, _, err := parseRecords(zr)
		f.Close()
		if err != nil {
			t.Fatalf("spool file %s: %v", p, err)
		}
		for _, r := range remotes {
			out[r] = true
		}
	}
	return out
}

func waitSpoolEmpty(t *testing.T, dir string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for len(spoolFiles(t, dir)) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("spool still holds %d files after %v", len(spoolFiles(t, dir)), limit)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestRelayBadInput: oversized headers and bodies, malformed request
// lines and a slow client get the right answer, and brink keeps serving.
func TestRelayBadInput(t *testing.T) {
	t.Parallel()
	s := newRelaySetup(t)
	port := freePorts(t, 1)[0]
	s.startRelay(t, port, "BRINK_RELAY__MAX_BODY_BYTES=1KiB")
	healthy := func(t *testing.T, after string) {
		t.Helper()
		resp, body, _ := s.request(t, port, "GET /api/echo HTTP/1.1\r\nHost: octet.test\r\n\r\n")
		if resp.StatusCode != http.StatusOK {
			t.Errorf("after %s: a normal request got %d %s", after, resp.StatusCode, body)
		}
	}
	// rawStatus sends raw and returns the status brink answers (0 when it
	// closes without one).
	rawStatus := func(raw string) int {
		c := s.dial(t, port)
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, raw)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	cases := []struct {
		name string
		raw  string
		want []int
	}{
		{"oversized-headers", "GET /api/echo HTTP/1.1\r\nHost: octet.test\r\nX-Big: " + strings.Repeat("a", 64<<10) + "\r\n\r\n",
			[]int{http.StatusRequestHeaderFieldsTooLarge, http.StatusBadRequest}},
		{"oversized-body", "POST /api/echo HTTP/1.1\r\nHost: octet.test\r\nContent-Length: 4096\r\n\r\n" + strings.Repeat("b", 4096),
			[]int{http.StatusRequestEntityTooLarge}},
		{"malformed-request-line", "GET\x01/api echo HTTP/9\r\n\r\n", []int{http.StatusBadRequest}},
		{"malformed-url", "GET http://[::1/api HTTP/1.1\r\nHost: octet.test\r\n\r\n", []int{http.StatusBadRequest}},
	}
	for _, tc := range cases {
		got := rawStatus(tc.raw)
		ok := false
		for _, w := range tc.want {
			ok = ok || got == w
		}
		if !ok {
			t.Errorf("%s: status %d, want one of %v", tc.name, got, tc.want)
		}
		healthy(t, tc.name)
	}
	reqs, _ := s.up.snapshot()
	for _, r := range reqs {
		if r.method == http.MethodPost {
			t.Errorf("the oversized body reached the upstream (%d bytes)", r.bodyLen)
		}
	}

	t.Run("slow-client", func(t *testing.T) {
		// One header byte every 250 ms: slower than brink's 15 s read
		// timeout lets a request take. brink closes the connection; other
		// clients are served meanwhile.
		c := s.dial(t, port)
		defer c.Close()
		closed := make(chan struct{})
		go func() {
			defer close(closed)
			_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
			io.Copy(io.Discard, c)
		}()
		line := "GET /api/echo?" + strings.Repeat("s", 200) + " HTTP/1.1\r\nHost: octet.test\r\n\r\n"
		start := time.Now()
		sent := 0
	send:
		for ; sent < len(line); sent++ {
			select {
			case <-closed:
				break send
			case <-time.After(250 * time.Millisecond):
			}
			if _, err := c.Write([]byte{line[sent]}); err != nil {
				break
			}
			if sent%20 == 0 {
				healthy(t, "slow client bytes")
			}
		}
		select {
		case <-closed:
		case <-time.After(5 * time.Second):
			t.Fatalf("brink kept a client sending one byte per 250 ms for %v", time.Since(start))
		}
		if sent >= len(line) {
			t.Fatalf("the slow client completed its request in %v; it should have been cut off", time.Since(start))
		}
		t.Logf("slow client cut off after %v, %d bytes", time.Since(start).Round(time.Millisecond), sent)
		healthy(t, "the slow client")
	})
}
