package e2e

import (
	"bufio"
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
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testCA is a certificate authority made for one test.
type testCA struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	pemPath string // the CA certificate, PEM
	pool    *x509.CertPool
}

// newTestCA writes a fresh ECDSA P-256 CA certificate into dir.
func newTestCA(t *testing.T, dir, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	ca := &testCA{cert: cert, key: key, pemPath: filepath.Join(dir, name+"-ca.pem"), pool: x509.NewCertPool()}
	ca.pool.AddCert(cert)
	writePEM(t, ca.pemPath, "CERTIFICATE", der)
	return ca
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// leaf is an issued certificate and its key, as files and in memory.
type leaf struct {
	certPath, keyPath string
	pair              tls.Certificate
	serial            int64
}

// issue signs a leaf for names (DNS names, or IP addresses) with serial,
// for server and client use, and writes cert and key as PEM into dir with
// the file names base+".crt" and base+".key".
func (ca *testCA) issue(t *testing.T, dir, base string, serial int64, names ...string) leaf {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: base},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	l := leaf{certPath: filepath.Join(dir, base+".crt"), keyPath: filepath.Join(dir, base+".key"), serial: serial}
	writePEM(t, l.certPath, "CERTIFICATE", der)
	writePEM(t, l.keyPath, "PRIVATE KEY", kder)
	if l.pair, err = tls.LoadX509KeyPair(l.certPath, l.keyPath); err != nil {
		t.Fatal(err)
	}
	return l
}

// procOptions starts a brink process other than startBrinkWith's plain
// offline one: any arguments and environment, and a readiness probe.
type procOptions struct {
	args  []string
	env   []string
	ready func() error // nil: ready once started
	limit time.Duration
}

// startProc starts brink with o.args and o.env (added to the test's
// environment), waits until o.ready succeeds, and stops it by PID at the
// end of the test (or earlier with Stop).
func startProc(t *testing.T, o procOptions) *brink {
	t.Helper()
	b := &brink{log: &syncBuffer{}}
	b.cmd = exec.Command(brinkBin, o.args...)
	b.cmd.Env = append(os.Environ(), o.env...)
	b.cmd.Stdout, b.cmd.Stderr = b.log, b.log
	if err := b.cmd.Start(); err != nil {
		t.Fatalf("start brink: %v", err)
	}
	b.exited = make(chan error, 1)
	go func() { b.exited <- b.cmd.Wait() }()
	t.Cleanup(func() { b.Stop(t) })
	limit := o.limit
	if limit == 0 {
		limit = 15 * time.Second
	}
	deadline := time.Now().Add(limit)
	var err error
	for {
		select {
		case werr := <-b.exited:
			b.exited <- werr
			t.Fatalf("brink %q exited before ready (%v):\n%s", o.args, werr, b.log.String())
		default:
		}
		if o.ready == nil {
			return b
		}
		if err = o.ready(); err == nil {
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("brink %q not ready within %v: %v\nlog:\n%s", o.args, limit, err, b.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// runExit runs brink to its end (bounded by 15 s) and returns its exit
// status and output.
func runExit(t *testing.T, args, env []string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, brinkBin, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("brink %q still running after 15s; output:\n%s", args, out)
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), string(out)
	}
	if err != nil {
		t.Fatalf("brink %q: %v", args, err)
	}
	return 0, string(out)
}

// freePorts returns n distinct free loopback ports.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var out []int
	for len(out) < n {
		p, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// tlsDataset is the e2e dataset plus e2e-tls13-only, on for connections
// that negotiated TLS 1.3 (a constraint on the tlsVersion property brink
// derives from the connection).
func tlsDataset(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot, "e2e", "testdata", "features.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ds map[string]any
	if err := json.Unmarshal(raw, &ds); err != nil {
		t.Fatal(err)
	}
	ds["features"] = append(ds["features"].([]any), map[string]any{
		"name": "e2e-tls13-only", "type": "release", "project": "default", "enabled": true,
		"strategies": []any{map[string]any{
			"name": "default", "parameters": map[string]any{}, "variants": []any{},
			"constraints": []any{map[string]any{
				"contextName": "tlsVersion", "operator": "IN", "values": []string{"1.3"},
				"caseInsensitive": false, "inverted": false,
			}},
		}},
	})
	out, err := json.Marshal(ds)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "features-tls.json")
	if err := os.WriteFile(p, out, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const tlsFlag = "e2e-tls13-only"

// frontendQuery is the context every TLS client asks /api/frontend for.
const frontendQuery = "/api/frontend?userId=7&properties%5Bplan%5D=pro"

// enabledNames decodes a /api/frontend answer into its enabled names.
func enabledNames(t *testing.T, body []byte) []string {
	t.Helper()
	var resp struct {
		Toggles []toggle `json:"toggles"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		t.Fatalf("decoding /api/frontend answer %q: %v", tail(string(body), 500), err)
	}
	var names []string
	for _, tg := range resp.Toggles {
		names = append(names, tg.Name)
	}
	slices.Sort(names)
	return names
}

// wantFlags is what a client over TLS version v should see: the plain
// brink's answer for the same context, plus the TLS 1.3 flag on 1.3.
func wantFlags(plain []string, v string) []string {
	out := slices.DeleteFunc(slices.Clone(plain), func(s string) bool { return s == tlsFlag })
	if v == "1.3" {
		out = append(out, tlsFlag)
		slices.Sort(out)
	}
	return out
}

// plainFlags starts a plain brink on ds and returns its enabled flags for
// frontendQuery: the reference the TLS answers must equal.
func plainFlags(t *testing.T, ds string) []string {
	t.Helper()
	ref := startBrinkWith(t, brinkOptions{bootstrap: ds})
	req, _ := http.NewRequest(http.MethodGet, ref.url+frontendQuery, nil)
	req.Header.Set("Authorization", frontendToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("plain brink: %d %s", resp.StatusCode, body)
	}
	names := enabledNames(t, body)
	if slices.Contains(names, tlsFlag) {
		t.Fatalf("plain brink enables %s: the constraint on tlsVersion should fail without TLS", tlsFlag)
	}
	if len(names) < 3 {
		t.Fatalf("plain brink enables only %v; the comparison would prove little", names)
	}
	return names
}

// tlsSignal is the part of /signal (connsig JSON) the TLS tests check.
type tlsSignal struct {
	Version        int    `json:"version"`
	TCPRttUs       int64  `json:"tcpRttUs"`
	HandshakeRttUs int64  `json:"handshakeRttUs"`
	TimingSource   string `json:"timingSource"`
	TLSVersion     string `json:"tlsVersion"`
	TLSCipher      string `json:"tlsCipher"`
	TLSHandshakeUs int64  `json:"tlsHandshakeUs"`
	SNI            string `json:"sni"`
	ALPN           string `json:"alpn"`
	JA4            string `json:"ja4"`
	JA3            string `json:"ja3"`
}

// checkTLSSignal checks a TLS connection's signal: version, SNI, JA4's
// prefix (t<version><d|i>), a JA3 hash and the handshake latency.
func checkTLSSignal(t *testing.T, who string, s tlsSignal, version, sni string) {
	t.Helper()
	ver := map[string]string{"1.2": "12", "1.3": "13"}[version]
	kind := "i"
	if sni != "" {
		kind = "d"
	}
	if !strings.HasPrefix(s.JA4, "t"+ver+kind) {
		t.Errorf("%s: ja4 %q, want prefix %q", who, s.JA4, "t"+ver+kind)
	}
	if len(s.JA3) != 32 || strings.Trim(s.JA3, "0123456789abcdef") != "" {
		t.Errorf("%s: ja3 %q is not an MD5 hex", who, s.JA3)
	}
	if s.TLSVersion != version {
		t.Errorf("%s: tlsVersion %q, want %q", who, s.TLSVersion, version)
	}
	if s.TLSHandshakeUs <= 0 {
		t.Errorf("%s: tlsHandshakeUs %d, want > 0", who, s.TLSHandshakeUs)
	}
	if s.SNI != sni {
		t.Errorf("%s: sni %q, want %q", who, s.SNI, sni)
	}
	if s.TLSCipher == "" {
		t.Errorf("%s: no tlsCipher", who)
	}
	if s.TCPRttUs <= 0 {
		t.Errorf("%s: tcpRttUs %d, want > 0", who, s.TCPRttUs)
	}
}

// httpOver sends one HTTP/1.1 GET on an open connection and returns the
// status and body.
func httpOver(c net.Conn, br *bufio.Reader, host, path, token string) (int, []byte, error) {
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	req := "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\n"
	if token != "" {
		req += "Authorization: " + token + "\r\n"
	}
	if _, err := io.WriteString(c, req+"\r\n"); err != nil {
		return 0, nil, err
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

// tlsVersions are the versions the clients are pinned to.
var tlsVersions = []struct {
	name string
	v    uint16
}{{"1.2", tls.VersionTLS12}, {"1.3", tls.VersionTLS13}}

// TestTLSUnleashStyle serves the e2e dataset with Unleash Edge's TLS flags
// and fetches flags and signals with Go's crypto/tls, curl and openssl
// s_client, pinned to TLS 1.2 and 1.3, with and without SNI and ALPN.
func TestTLSUnleashStyle(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := newTestCA(t, dir, "unleash")
	srv := ca.issue(t, dir, "server", 10, "brink.test", "127.0.0.1")
	ds := tlsDataset(t)
	plain := plainFlags(t, ds)
	ports := freePorts(t, 2)
	plainPort, tlsPort := ports[0], ports[1]
	addr := "127.0.0.1:" + strconv.Itoa(tlsPort)
	startProc(t, procOptions{
		args: []string{"offline", "-b", ds,
			"--client-tokens", clientToken, "--frontend-tokens", frontendToken,
			"-i", "127.0.0.1", "-p", strconv.Itoa(plainPort),
			"--tls-enable", "--tls-server-cert", srv.certPath, "--tls-server-key", srv.keyPath,
			"--tls-server-port", strconv.Itoa(tlsPort)},
		ready: tlsReady(addr, ca.pool, "brink.test", "/internal-backstage/ready"),
	})
	// TLS replaces the plain API listener.
	if c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(plainPort), time.Second); err == nil {
		c.Close()
		t.Errorf("plain port %d accepts connections with --tls-enable; the API should be TLS only", plainPort)
	}

	t.Run("go", func(t *testing.T) {
		for _, ver := range tlsVersions {
			for _, sni := range []string{"brink.test", ""} {
				for _, alpn := range [][]string{nil, {"h2", "http/1.1"}} {
					name := fmt.Sprintf("%s/sni=%v/alpn=%v", ver.name, sni != "", alpn != nil)
					cfg := &tls.Config{RootCAs: ca.pool, ServerName: sni, MinVersion: ver.v, MaxVersion: ver.v, NextProtos: alpn}
					if sni == "" {
						// Go sends no SNI for an IP ServerName; it verifies the IP SAN.
						cfg.ServerName = "127.0.0.1"
					}
					c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
					if err != nil {
						t.Errorf("%s: handshake: %v", name, err)
						continue
					}
					st := c.ConnectionState()
					if st.Version != ver.v {
						t.Errorf("%s: negotiated %s", name, tls.VersionName(st.Version))
					}
					if alpn != nil && st.NegotiatedProtocol != "http/1.1" {
						t.Errorf("%s: ALPN %q, want http/1.1 (brink serves HTTP/1.1 only)", name, st.NegotiatedProtocol)
					}
					br := bufio.NewReader(c)
					code, body, err := httpOver(c, br, "brink.test", frontendQuery, frontendToken)
					if err != nil || code != http.StatusOK {
						t.Errorf("%s: /api/frontend: %d %s %v", name, code, body, err)
						c.Close()
						continue
					}
					if got, want := enabledNames(t, body), wantFlags(plain, ver.name); !slices.Equal(got, want) {
						t.Errorf("%s: flags %v, want %v", name, got, want)
					}
					code, body, err = httpOver(c, br, "brink.test", "/signal", "")
					c.Close()
					if err != nil || code != http.StatusOK {
						t.Errorf("%s: /signal: %d %s %v", name, code, body, err)
						continue
					}
					var s tlsSignal
					if err := json.Unmarshal(body, &s); err != nil {
						t.Errorf("%s: /signal %s: %v", name, body, err)
						continue
					}
					checkTLSSignal(t, name, s, ver.name, sni)
					if alpn != nil && s.ALPN != "http/1.1" {
						t.Errorf("%s: signal alpn %q, want http/1.1", name, s.ALPN)
					}
				}
			}
		}
	})

	t.Run("curl", func(t *testing.T) {
		curl, err := exec.LookPath("curl")
		requireDep(t, err)
		for _, ver := range tlsVersions {
			pin := []string{"--tlsv1.3"}
			if ver.name == "1.2" {
				pin = []string{"--tlsv1.2", "--tls-max", "1.2"}
			}
			get := func(path, token string) []byte {
				args := append([]string{"-sS", "--fail-with-body", "--max-time", "10",
					"--cacert", ca.pemPath, "--resolve", "brink.test:" + strconv.Itoa(tlsPort) + ":127.0.0.1"}, pin...)
				if token != "" {
					args = append(args, "-H", "Authorization: "+token)
				}
				out, err := exec.Command(curl, append(args, "https://brink.test:"+strconv.Itoa(tlsPort)+path)...).CombinedOutput()
				if err != nil {
					t.Fatalf("curl %s %s: %v\n%s", ver.name, path, err, out)
				}
				return out
			}
			if got, want := enabledNames(t, get(frontendQuery, frontendToken)), wantFlags(plain, ver.name); !slices.Equal(got, want) {
				t.Errorf("curl %s: flags %v, want %v", ver.name, got, want)
			}
			var s tlsSignal
			if err := json.Unmarshal(get("/signal", ""), &s); err != nil {
				t.Fatalf("curl %s /signal: %v", ver.name, err)
			}
			checkTLSSignal(t, "curl "+ver.name, s, ver.name, "brink.test")
		}
	})

	t.Run("openssl", func(t *testing.T) {
		openssl, err := exec.LookPath("openssl")
		requireDep(t, err)
		for _, ver := range tlsVersions {
			pin := map[string]string{"1.2": "-tls1_2", "1.3": "-tls1_3"}[ver.name]
			get := func(path, token string) []byte {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				cmd := exec.CommandContext(ctx, openssl, "s_client", "-connect", addr, "-servername", "brink.test",
					"-CAfile", ca.pemPath, "-verify_return_error", "-quiet", pin)
				req := "GET " + path + " HTTP/1.1\r\nHost: brink.test\r\nConnection: close\r\n"
				if token != "" {
					req += "Authorization: " + token + "\r\n"
				}
				cmd.Stdin = strings.NewReader(req + "\r\n")
				var stderr strings.Builder
				cmd.Stderr = &stderr
				out, err := cmd.Output()
				if err != nil {
					t.Fatalf("openssl %s %s: %v\n%s", ver.name, path, err, stderr.String())
				}
				resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(string(out))), nil)
				if err != nil {
					t.Fatalf("openssl %s %s: reading %q: %v", ver.name, path, out, err)
				}
				defer resp.Body.Close()
				body, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("openssl %s %s: %d %s", ver.name, path, resp.StatusCode, body)
				}
				return body
			}
			if got, want := enabledNames(t, get(frontendQuery, frontendToken)), wantFlags(plain, ver.name); !slices.Equal(got, want) {
				t.Errorf("openssl %s: flags %v, want %v", ver.name, got, want)
			}
			var s tlsSignal
			if err := json.Unmarshal(get("/signal", ""), &s); err != nil {
				t.Fatalf("openssl %s /signal: %v", ver.name, err)
			}
			checkTLSSignal(t, "openssl "+ver.name, s, ver.name, "brink.test")
		}
	})
}

// tlsReady returns a readiness probe: GET path over TLS answers 200.
func tlsReady(addr string, roots *x509.CertPool, sni, path string) func() error {
	return func() error {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", addr,
			&tls.Config{RootCAs: roots, ServerName: sni})
		if err != nil {
			return err
		}
		defer c.Close()
		code, body, err := httpOver(c, bufio.NewReader(c), sni, path, "")
		if err != nil {
			return err
		}
		if code != http.StatusOK {
			return fmt.Errorf("GET %s: %d %s", path, code, body)
		}
		return nil
	}
}

// TestTLSOctetStyle serves TLS on PORT from EDGE_TLS_CERT_FILE and
// EDGE_TLS_KEY_FILE (no plain listener), redirects http.listen_addr to
// HTTPS, and exposes TLS metrics on a loopback Prometheus listener.
func TestTLSOctetStyle(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := newTestCA(t, dir, "octet")
	srv := ca.issue(t, dir, "server", 20, "brink.test", "127.0.0.1")
	ports := freePorts(t, 3)
	port, redir, prom := ports[0], ports[1], ports[2]
	addr := "127.0.0.1:" + strconv.Itoa(port)
	startProc(t, procOptions{
		args: []string{"offline", "-b", filepath.Join(repoRoot, "e2e", "testdata", "features.json"),
			"--frontend-tokens", frontendToken},
		env: []string{"PORT=" + strconv.Itoa(port), "INTERFACE=127.0.0.1",
			"EDGE_TLS_CERT_FILE=" + srv.certPath, "EDGE_TLS_KEY_FILE=" + srv.keyPath,
			"BRINK_HTTP__LISTEN_ADDR=127.0.0.1:" + strconv.Itoa(redir),
			"BRINK_METRICS__PROMETHEUS__LISTEN_ADDR=127.0.0.1:" + strconv.Itoa(prom)},
		ready: tlsReady(addr, ca.pool, "brink.test", "/internal-backstage/ready"),
	})

	t.Run("tls-on-port", func(t *testing.T) {
		c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.pool, ServerName: "brink.test"})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		code, body, err := httpOver(c, bufio.NewReader(c), "brink.test", frontendQuery, frontendToken)
		if err != nil || code != http.StatusOK {
			t.Fatalf("/api/frontend over TLS on PORT: %d %s %v", code, body, err)
		}
		if names := enabledNames(t, body); !slices.Contains(names, "e2e-default-on") || !slices.Contains(names, "e2e-c-in") {
			t.Errorf("flags %v lack e2e-default-on and e2e-c-in (plan=pro)", names)
		}
		// Plain HTTP on the same port gets no HTTP answer.
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + addr + "/internal-backstage/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				t.Errorf("plain HTTP on PORT answered 200; PORT should be TLS only")
			}
		}
	})

	t.Run("redirect", func(t *testing.T) {
		c := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:"+strconv.Itoa(redir)+"/api/frontend?userId=7&x=a%20b", nil)
		req.Host = "brink.test"
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		want := "https://brink.test:" + strconv.Itoa(port) + "/api/frontend?userId=7&x=a%20b"
		if resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != want {
			t.Errorf("redirect: %d Location %q, want 308 %q", resp.StatusCode, resp.Header.Get("Location"), want)
		}
	})

	t.Run("prometheus", func(t *testing.T) {
		for range 3 {
			if err := tlsReady(addr, ca.pool, "brink.test", "/internal-backstage/health")(); err != nil {
				t.Fatal(err)
			}
		}
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://127.0.0.1:" + strconv.Itoa(prom) + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		var n float64
		for _, line := range strings.Split(string(body), "\n") {
			if strings.HasPrefix(line, "brink_tls_handshakes_total{") {
				f := strings.Fields(line)
				v, _ := strconv.ParseFloat(f[len(f)-1], 64)
				n += v
			}
		}
		if resp.StatusCode != http.StatusOK || n < 3 {
			t.Errorf("/metrics: %d; brink_tls_handshakes_total sums to %v, want >= 3:\n%s", resp.StatusCode, n, tail(string(body), 2000))
		}
	})
}

// TestTLSAcceptLoop: the TLS listener's other accept mode, the event loop
// (tls.accept loop, here from BRINK_TLS__ACCEPT; the other TLS tests run
// the default), serves flags and the connection signal over TLS 1.2 and
// 1.3, and refuses a name no route or certificate claims with
// unrecognized_name.
func TestTLSAcceptLoop(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := newTestCA(t, dir, "loop")
	srv := ca.issue(t, dir, "server", 30, "brink.test", "127.0.0.1")
	port := freePorts(t, 1)[0]
	addr := "127.0.0.1:" + strconv.Itoa(port)
	b := startProc(t, procOptions{
		args: []string{"offline", "-b", filepath.Join(repoRoot, "e2e", "testdata", "features.json"),
			"--frontend-tokens", frontendToken},
		env: []string{"PORT=" + strconv.Itoa(port), "INTERFACE=127.0.0.1", "BRINK_ENGINE__HOST=brink.test",
			"EDGE_TLS_CERT_FILE=" + srv.certPath, "EDGE_TLS_KEY_FILE=" + srv.keyPath, "BRINK_TLS__ACCEPT=loop"},
		ready: tlsReady(addr, ca.pool, "brink.test", "/internal-backstage/ready"),
	})
	if !strings.Contains(b.log.String(), "loop listening") {
		t.Errorf("BRINK_TLS__ACCEPT=loop: no event loop started; log:\n%s", b.log.String())
	}
	for _, ver := range tlsVersions {
		c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.pool, ServerName: "brink.test", MinVersion: ver.v, MaxVersion: ver.v})
		if err != nil {
			t.Errorf("%s: handshake: %v", ver.name, err)
			continue
		}
		br := bufio.NewReader(c)
		code, body, err := httpOver(c, br, "brink.test", frontendQuery, frontendToken)
		if err != nil || code != http.StatusOK || !slices.Contains(enabledNames(t, body), "e2e-default-on") {
			t.Errorf("%s: /api/frontend: %d %s %v", ver.name, code, body, err)
		}
		code, body, err = httpOver(c, br, "brink.test", "/signal", "")
		c.Close()
		var s tlsSignal
		if err != nil || code != http.StatusOK || json.Unmarshal(body, &s) != nil {
			t.Errorf("%s: /signal: %d %s %v", ver.name, code, body, err)
			continue
		}
		checkTLSSignal(t, ver.name, s, ver.name, "brink.test")
	}
	_, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "nobody.test", InsecureSkipVerify: true}) //nolint:gosec // the alert comes before any certificate
	if err == nil || !strings.Contains(err.Error(), "unrecognized name") {
		t.Errorf("unknown SNI: %v, want the unrecognized_name alert", err)
	}
}

// TestTLSPrometheusBeyondLoopback: a Prometheus listener on a
// non-loopback address without a bearer token is refused at start.
func TestTLSPrometheusBeyondLoopback(t *testing.T) {
	t.Parallel()
	p := freePorts(t, 1)[0]
	bad := "0.0.0.0:" + strconv.Itoa(p)
	code, out := runExit(t, []string{"offline", "-b", filepath.Join(repoRoot, "e2e", "testdata", "features.json"),
		"--frontend-tokens", frontendToken, "-i", "127.0.0.1", "-p", strconv.Itoa(freePorts(t, 1)[0])},
		[]string{"BRINK_METRICS__PROMETHEUS__LISTEN_ADDR=" + bad})
	if code != 2 || !strings.Contains(out, bad) {
		t.Errorf("exit %d, want 2 with a message naming %s; output:\n%s", code, bad, out)
	}
}

// TestTLSSNIRouting configures routes in YAML: the engine host serves the
// API, *.t.<engine host> answers 503 (no tunnel engine), a passthrough
// route hands the raw TLS bytes to a backend, unknown names get an alert.
func TestTLSSNIRouting(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := newTestCA(t, dir, "sni")
	srv := ca.issue(t, dir, "server", 30, "brink.test", "*.t.brink.test")
	backend := ca.issue(t, dir, "backend", 31, "pass.test")
	// The passthrough backend terminates TLS itself and echoes a line.
	bln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{backend.pair}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bln.Close() })
	go func() {
		for {
			c, err := bln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				line, err := bufio.NewReader(c).ReadString('\n')
				if err == nil {
					io.WriteString(c, "echo:"+line)
				}
			}()
		}
	}()
	port := freePorts(t, 1)[0]
	addr := "127.0.0.1:" + strconv.Itoa(port)
	yaml := fmt.Sprintf(`engine:
  host: brink.test
server:
  interface: 127.0.0.1
tls:
  listen_addr: %q
  cert_file: %q
  key_file: %q
  routes:
    - host: pass.test
      passthrough: %q
`, addr, srv.certPath, srv.keyPath, bln.Addr().String())
	cfgPath := filepath.Join(dir, "brink.yaml")
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	startProc(t, procOptions{
		// -c before the command: after "offline" it is --client-tokens,
		// as in Unleash Edge.
		args: []string{"-c", cfgPath, "offline", "-b", filepath.Join(repoRoot, "e2e", "testdata", "features.json"),
			"--frontend-tokens", frontendToken},
		ready: tlsReady(addr, ca.pool, "brink.test", "/internal-backstage/ready"),
	})
	get := func(sni, path string) (int, []byte, *x509.Certificate, error) {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{RootCAs: ca.pool, ServerName: sni})
		if err != nil {
			return 0, nil, nil, err
		}
		defer c.Close()
		code, body, err := httpOver(c, bufio.NewReader(c), sni, path, frontendToken)
		return code, body, c.ConnectionState().PeerCertificates[0], err
	}

	t.Run("engine-host", func(t *testing.T) {
		code, body, cert, err := get("brink.test", frontendQuery)
		if err != nil || code != http.StatusOK || !strings.Contains(string(body), "e2e-default-on") {
			t.Fatalf("brink.test: %d %s %v", code, body, err)
		}
		if cert.SerialNumber.Int64() != 30 {
			t.Errorf("brink.test got certificate serial %v, want 30", cert.SerialNumber)
		}
	})
	t.Run("tunnel-host", func(t *testing.T) {
		code, body, _, err := get("app.t.brink.test", "/")
		if err != nil || code != http.StatusServiceUnavailable || !strings.Contains(string(body), "tunnel engine not available") {
			t.Errorf("app.t.brink.test: %d %s %v; want 503 naming the missing tunnel engine", code, body, err)
		}
	})
	t.Run("passthrough", func(t *testing.T) {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{RootCAs: ca.pool, ServerName: "pass.test"})
		if err != nil {
			t.Fatalf("pass.test handshake: %v", err)
		}
		defer c.Close()
		if s := c.ConnectionState().PeerCertificates[0].SerialNumber.Int64(); s != 31 {
			t.Errorf("pass.test presented serial %d, want the backend's 31 (brink must not terminate)", s)
		}
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, "hello through brink\n")
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil || line != "echo:hello through brink\n" {
			t.Errorf("passthrough echo %q, %v", line, err)
		}
	})
	t.Run("unknown-sni", func(t *testing.T) {
		_, _, _, err := get("other.test", "/")
		if err == nil || !strings.Contains(err.Error(), "unrecognized name") {
			t.Errorf("other.test: %v; want an unrecognized_name alert", err)
		}
		// brink still serves.
		if code, _, _, err := get("brink.test", "/internal-backstage/health"); err != nil || code != http.StatusOK {
			t.Errorf("after the refused name: %d %v", code, err)
		}
	})
}

// TestTLSCertReload renames a new certificate pair into place while a
// bounded load of fresh handshakes runs: none fails, and new connections
// get the new certificate.
func TestTLSCertReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := newTestCA(t, dir, "reload")
	live := ca.issue(t, dir, "live", 100, "brink.test")
	port := freePorts(t, 1)[0]
	addr := "127.0.0.1:" + strconv.Itoa(port)
	startProc(t, procOptions{
		args: []string{"offline", "-b", filepath.Join(repoRoot, "e2e", "testdata", "features.json"),
			"--frontend-tokens", frontendToken},
		env: []string{"PORT=" + strconv.Itoa(port), "INTERFACE=127.0.0.1",
			"EDGE_TLS_CERT_FILE=" + live.certPath, "EDGE_TLS_KEY_FILE=" + live.keyPath},
		ready: tlsReady(addr, ca.pool, "brink.test", "/internal-backstage/ready"),
	})
	handshake := func() (int64, error) {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{RootCAs: ca.pool, ServerName: "brink.test"})
		if err != nil {
			return 0, err
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].SerialNumber.Int64(), nil
	}
	if s, err := handshake(); err != nil || s != 100 {
		t.Fatalf("before reload: serial %d, %v", s, err)
	}
	var (
		ok, failed atomic.Int64
		sawNew     atomic.Bool
		mu         sync.Mutex
		errs       []error
		wg         sync.WaitGroup
	)
	stop := time.Now().Add(3 * time.Second)
	for range 4 {
		wg.Go(func() {
			for i := 0; i < 2000 && time.Now().Before(stop); i++ {
				s, err := handshake()
				if err != nil {
					failed.Add(1)
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					continue
				}
				ok.Add(1)
				if s == 200 {
					sawNew.Store(true)
				}
			}
		})
	}
	time.Sleep(500 * time.Millisecond)
	// Write the new pair next to the live files, then rename the key and
	// the certificate into place (between the renames the pair mismatches).
	next := ca.issue(t, dir, "next", 200, "brink.test")
	if err := os.Rename(next.keyPath, live.keyPath); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	if err := os.Rename(next.certPath, live.certPath); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if failed.Load() != 0 {
		t.Errorf("%d of %d handshakes failed during the reload; first: %v", failed.Load(), failed.Load()+ok.Load(), errs[0])
	}
	t.Logf("%d handshakes during the reload, new certificate seen under load: %v", ok.Load(), sawNew.Load())
	// New connections get the new serial (the store checks at most once a
	// second per pair).
	deadline := time.Now().Add(5 * time.Second)
	for {
		s, err := handshake()
		if err != nil {
			t.Fatalf("after reload: %v", err)
		}
		if s == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("new connections still get serial %d 5s after the rename", s)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for range 10 {
		if s, err := handshake(); err != nil || s != 200 {
			t.Errorf("after reload: serial %d, %v; want 200", s, err)
		}
	}
}
