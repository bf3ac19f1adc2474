package relay

import (
	"bufio"
	"compress/gzip"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testPKI is a test CA with a server certificate for 127.0.0.1/localhost
// and a client certificate, written as PEM files.
type testPKI struct {
	caFile, certFile, keyFile string // client certificate and key
	server                    tls.Certificate
	pool                      *x509.CertPool
}

var (
	pkiOnce sync.Once
	pki     *testPKI
	pkiErr  error
	pkiDir  string
)

func newTestPKI(t testing.TB) *testPKI {
	t.Helper()
	pkiOnce.Do(func() {
		dir, err := os.MkdirTemp("", "relay-pki-")
		if err != nil {
			pkiErr = err
			return
		}
		pkiDir = dir
		pki, pkiErr = makePKI(dir)
	})
	if pkiErr != nil {
		t.Fatal(pkiErr)
	}
	return pki
}

func makePKI(dir string) (*testPKI, error) {
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "relay test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(serial int64, cn string, usage x509.ExtKeyUsage, server bool) ([]byte, []byte, error) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		}
		if server {
			tmpl.DNSNames = []string{"localhost"}
			tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			return nil, nil, err
		}
		kder, _ := x509.MarshalPKCS8PrivateKey(key)
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
			pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), nil
	}
	sCert, sKey, err := issue(2, "upstream", x509.ExtKeyUsageServerAuth, true)
	if err != nil {
		return nil, err
	}
	cCert, cKey, err := issue(3, "edge", x509.ExtKeyUsageClientAuth, false)
	if err != nil {
		return nil, err
	}
	p := &testPKI{
		caFile:   filepath.Join(dir, "ca.pem"),
		certFile: filepath.Join(dir, "edge.crt"),
		keyFile:  filepath.Join(dir, "edge.key"),
		pool:     x509.NewCertPool(),
	}
	p.pool.AddCert(ca)
	for name, data := range map[string][]byte{
		p.caFile:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		p.certFile: cCert, p.keyFile: cKey,
	} {
		if err := os.WriteFile(name, data, 0o600); err != nil {
			return nil, err
		}
	}
	p.server, err = tls.X509KeyPair(sCert, sKey)
	return p, err
}

// seenRequest is a forwarded request as the upstream saw it.
type seenRequest struct {
	Method, URI, Host string
	Header            http.Header
	Body              []byte
	ClientCert        bool
}

// ingestRecord is one line of an ingest batch.
type ingestRecord struct {
	At     string          `json:"at"`
	Remote string          `json:"remote"`
	Signal json.RawMessage `json:"signal"`
}

// recorder is the recording upstream: an HTTPS server (a test CA; with
// requireClientCert it demands a certificate from that CA) that records
// forwarded requests and ingest batches. stop and restart keep the port.
type recorder struct {
	t                 testing.TB
	pki               *testPKI
	requireClientCert bool
	plain             bool // serve HTTP, not HTTPS

	addr string
	mu   sync.Mutex
	srv  *http.Server
	reqs []seenRequest
	// byRemote maps a record's remote to the Idempotency-Keys of the
	// batches it arrived in (one entry per arrival).
	byRemote map[string][]string
	batches  map[string]int // arrivals per Idempotency-Key
	licenses map[string]int

	delay   atomic.Int64 // ns to wait before answering forwarded requests
	drop    atomic.Bool  // close forwarded requests' connections unanswered
	hits    atomic.Int64 // forwarded requests seen (dropped ones included)
	ingestN atomic.Int64 // ingest posts seen
	status  atomic.Int64 // when set, the ingest status to answer
}

func newRecorder(t testing.TB, requireClientCert bool) *recorder {
	t.Helper()
	r := &recorder{t: t, pki: newTestPKI(t), requireClientCert: requireClientCert,
		byRemote: map[string][]string{}, batches: map[string]int{}, licenses: map[string]int{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.addr = ln.Addr().String()
	r.serve(ln)
	t.Cleanup(r.stop)
	return r
}

func (r *recorder) url() string {
	if r.plain {
		return "http://" + r.addr
	}
	return "https://" + r.addr
}

func (r *recorder) serve(ln net.Listener) {
	srv := &http.Server{Handler: http.HandlerFunc(r.handle), ReadHeaderTimeout: 5 * time.Second,
		ErrorLog: log.New(io.Discard, "", 0)}
	if !r.plain {
		tc := &tls.Config{Certificates: []tls.Certificate{r.pki.server}, MinVersion: tls.VersionTLS12}
		if r.requireClientCert {
			tc.ClientAuth = tls.RequireAndVerifyClientCert
			tc.ClientCAs = r.pki.pool
		}
		ln = tls.NewListener(ln, tc)
	}
	r.mu.Lock()
	r.srv = srv
	r.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

// stop closes the listener and every connection.
func (r *recorder) stop() {
	r.mu.Lock()
	srv := r.srv
	r.srv = nil
	r.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// restart listens again on the same port.
func (r *recorder) restart() {
	r.t.Helper()
	var ln net.Listener
	var err error
	for range 100 {
		if ln, err = net.Listen("tcp", r.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		r.t.Fatalf("relisten on %s: %v", r.addr, err)
	}
	r.serve(ln)
}

func (r *recorder) handle(w http.ResponseWriter, req *http.Request) {
	if req.URL.Path == DefaultIngestPath {
		r.ingest(w, req)
		return
	}
	if req.Method == http.MethodHead && req.URL.Path == "/" {
		w.WriteHeader(http.StatusOK)
		return
	}
	r.hits.Add(1)
	if r.drop.Load() {
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				_ = c.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
	body, _ := io.ReadAll(req.Body)
	if d := time.Duration(r.delay.Load()); d > 0 {
		select {
		case <-time.After(d):
		case <-req.Context().Done():
			return
		}
	}
	r.mu.Lock()
	r.reqs = append(r.reqs, seenRequest{Method: req.Method, URI: req.RequestURI, Host: req.Host,
		Header: req.Header.Clone(), Body: body, ClientCert: req.TLS != nil && len(req.TLS.PeerCertificates) > 0})
	r.mu.Unlock()
	w.Header().Set("X-Upstream", "recorder")
	w.Header().Set("Content-Type", "text/plain")
	_, _ = io.WriteString(w, "hello from upstream "+req.Method+" "+req.URL.Path)
}

func (r *recorder) ingest(w http.ResponseWriter, req *http.Request) {
	r.ingestN.Add(1)
	if s := r.status.Load(); s != 0 {
		w.WriteHeader(int(s))
		return
	}
	key := req.Header.Get("Idempotency-Key")
	if req.Method != http.MethodPost || key == "" || req.Header.Get("Content-Encoding") != "gzip" {
		http.Error(w, `{"error":"bad batch"}`, http.StatusBadRequest)
		return
	}
	zr, err := gzip.NewReader(req.Body)
	if err != nil {
		http.Error(w, `{"error":"not gzip"}`, http.StatusBadRequest)
		return
	}
	var recs []ingestRecord
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var rec ingestRecord
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			http.Error(w, `{"error":"bad line"}`, http.StatusBadRequest)
			return
		}
		recs = append(recs, rec)
	}
	if err := sc.Err(); err != nil {
		return // a cut connection: nothing stored, no answer
	}
	if n, _ := strconv.Atoi(req.Header.Get("X-Brink-Records")); n != len(recs) {
		http.Error(w, `{"error":"record count"}`, http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	r.batches[key]++
	r.licenses[req.Header.Get(DefaultLicenseHeader)]++
	for _, rec := range recs {
		r.byRemote[rec.Remote] = append(r.byRemote[rec.Remote], key)
	}
	r.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

func (r *recorder) requests() []seenRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]seenRequest(nil), r.reqs...)
}

func (r *recorder) distinctRemotes() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.byRemote)
}

// waitRemotes waits until n distinct records arrived.
func (r *recorder) waitRemotes(t testing.TB, n int, within time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	for r.distinctRemotes() < n {
		if ctx.Err() != nil {
			t.Fatalf("%d of %d records arrived within %v", r.distinctRemotes(), n, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkDuplicates fails when a record arrived more than once under
// different Idempotency-Keys.
func (r *recorder) checkDuplicates(t testing.TB) (dups int) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for remote, keys := range r.byRemote {
		for _, k := range keys[1:] {
			dups++
			if k != keys[0] {
				t.Errorf("record %s arrived in batches %q and %q", remote, keys[0], k)
			}
		}
	}
	return dups
}
