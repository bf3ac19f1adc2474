package tlsterm

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/brink-edge/brink/connsig"
	"github.com/brink-edge/brink/loop"
)

// testCA signs the test certificates; made once per test binary.
var testCA struct {
	once sync.Once
	cert *x509.Certificate
	key  crypto.Signer
	pem  []byte
	pool *x509.CertPool
}

func ca(t testing.TB) {
	t.Helper()
	testCA.once.Do(func() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber:          big.NewInt(1),
			Subject:               pkix.Name{CommonName: "brink test CA"},
			NotBefore:             time.Now().Add(-time.Hour),
			NotAfter:              time.Now().Add(24 * time.Hour),
			IsCA:                  true,
			BasicConstraintsValid: true,
			KeyUsage:              x509.KeyUsageCertSign,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
		if err != nil {
			panic(err)
		}
		testCA.cert, _ = x509.ParseCertificate(der)
		testCA.key = key
		testCA.pem = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
		testCA.pool = x509.NewCertPool()
		testCA.pool.AddCert(testCA.cert)
	})
}

// leaf returns PEM certificate and key for names, signed by the test CA.
func leaf(t testing.TB, serial int64, rsaKey bool, names ...string) (certPEM, keyPEM []byte) {
	t.Helper()
	ca(t)
	var key crypto.Signer
	var err error
	if rsaKey {
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	} else {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: names[0]},
		DNSNames:     names,
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, testCA.cert, key.Public(), testCA.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
}

// writePair writes a pair into dir as <name>.crt and <name>.key.
func writePair(t testing.TB, dir, name string, certPEM, keyPEM []byte) CertPair {
	t.Helper()
	p := CertPair{CertFile: filepath.Join(dir, name+".crt"), KeyFile: filepath.Join(dir, name+".key")}
	if err := os.WriteFile(p.CertFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.KeyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// echoService answers every request with the service name and the
// connection's signal, as a request handler of flags/api would see it.
func echoService(name string) *HTTPService {
	return NewHTTPService(func(ctx *fasthttp.RequestCtx) {
		c, ok := ctx.Conn().(connsig.Carrier)
		if !ok {
			ctx.Error("no signal", 500)
			return
		}
		t := &c.Signal().TLS
		fmt.Fprintf(ctx, "svc=%s tls=%v sni=%s alpn=%s ja4=%s ja3=%s hello=%x version=%x cipher=%x resumed=%v latency=%d hellotime=%d flight=%d\n",
			name, ctx.IsTLS(), t.SNI[:t.SNILen], t.ALPN[:t.ALPNLen], t.JA4[:], t.JA3[:], t.HelloVersion,
			t.Version, t.CipherSuite, t.Resumed, t.HandshakeLatency, t.HelloTime, t.ServerFlightTime)
	})
}

// answer parses echoService's line into a map.
func answer(t testing.TB, line string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, f := range strings.Fields(line) {
		k, v, _ := strings.Cut(f, "=")
		m[k] = v
	}
	return m
}

type testServer struct {
	*Server
	ls   *loop.Server // loop mode
	acc  *Acceptor    // netpoll mode
	addr string
	dir  string
	ca   string // CA file
	logs *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// mode is an accept mode the tests run the Server in: AcceptLoop (a
// real loop.Server with the Server as its Handler) or AcceptNetpoll (an
// Acceptor).
type mode string

var modes = []mode{AcceptLoop, AcceptNetpoll}

// eachMode runs fn as a subtest per accept mode.
func eachMode(t *testing.T, fn func(t *testing.T, m mode)) {
	t.Helper()
	for _, m := range modes {
		t.Run(string(m), func(t *testing.T) { fn(t, m) })
	}
}

// start runs a Server on 127.0.0.1 in accept mode m; lcfg's accept
// settings (ReadHeaderTimeout, MaxConns, Capturer, PrepareListener,
// OnShutdown) apply in both modes. With no certs in cfg, it writes one
// ECDSA pair for engine.test, *.example.test and the tunnel hosts.
func (m mode) start(t testing.TB, cfg Config, lcfg loop.Config) *testServer {
	t.Helper()
	dir := t.TempDir()
	ts := &testServer{dir: dir, logs: &syncBuffer{}}
	if cfg.Certs == nil {
		c, k := leaf(t, 100, false, "engine.test", "*.example.test", "*.t.engine.test", "other.test")
		cfg.Certs = []CertPair{writePair(t, dir, "main", c, k)}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(ts.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ts.ca = filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ts.ca, testCA.pem, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts.Server = s
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	switch m {
	case AcceptLoop:
		lcfg.Addr = "127.0.0.1:0"
		if lcfg.Loops == 0 {
			lcfg.Loops = 2
		}
		ls, err := loop.New(lcfg, s)
		if err != nil {
			t.Fatal(err)
		}
		ts.ls, ts.addr = ls, ls.Addr()
		go func() { done <- ls.Run(ctx) }()
		select {
		case <-ls.Ready():
		case err := <-done:
			t.Fatalf("loop Run: %v", err)
		}
	case AcceptNetpoll:
		a, err := NewAcceptor(s, AcceptConfig{
			Addr:              "127.0.0.1:0",
			ReadHeaderTimeout: lcfg.ReadHeaderTimeout,
			MaxConns:          lcfg.MaxConns,
			Capturer:          lcfg.Capturer,
			PrepareListener:   lcfg.PrepareListener,
			OnShutdown:        lcfg.OnShutdown,
		})
		if err != nil {
			t.Fatal(err)
		}
		ts.acc, ts.addr = a, a.Addr()
		go func() { done <- a.Run(ctx) }()
	default:
		t.Fatalf("unknown accept mode %q", m)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("%s Run: %v", m, err)
		}
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		if err := s.Shutdown(sctx); err != nil && err != ErrShutdown {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return ts
}

// clientConfig is a Go client's config for sni trusting the test CA.
func clientConfig(sni string, maxVersion uint16, alpn ...string) *tls.Config {
	return &tls.Config{ServerName: sni, RootCAs: testCA.pool, MaxVersion: maxVersion, NextProtos: alpn}
}

// get sends one GET over a TLS connection and returns the first line of
// the body and the connection state.
func get(t testing.TB, addr string, conf *tls.Config, host string) (string, tls.ConnectionState, error) {
	t.Helper()
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, conf)
	if err != nil {
		return "", tls.ConnectionState{}, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if host == "" {
		host = "localhost"
	}
	if _, err := fmt.Fprintf(c, "GET /x?y=1 HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", host); err != nil {
		return "", c.ConnectionState(), err
	}
	b, err := io.ReadAll(bufio.NewReader(c))
	if err != nil {
		return "", c.ConnectionState(), err
	}
	_, body, _ := strings.Cut(string(b), "\r\n\r\n")
	status, _, _ := strings.Cut(string(b), "\r\n")
	if !strings.Contains(status, " 200 ") {
		return status + " " + body, c.ConnectionState(), nil
	}
	return strings.TrimSpace(body), c.ConnectionState(), nil
}
