package tlsterm

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"io"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/brink-edge/brink/loop"
)

func TestRouting(t *testing.T) { eachMode(t, testRouting) }

func testRouting(t *testing.T, m mode) {
	// A passthrough backend: a TLS server of its own (its own certificate,
	// serial 555) that echoes what it reads.
	bc, bk := leaf(t, 555, false, "pass.test")
	bcert, err := tls.X509KeyPair(bc, bk)
	if err != nil {
		t.Fatal(err)
	}
	bl, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{bcert}})
	if err != nil {
		t.Fatal(err)
	}
	defer bl.Close()
	go func() {
		for {
			c, err := bl.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()

	cfg := baseConfig()
	cfg.Routes = append(cfg.Routes,
		Route{Host: "*.example.test", Service: "other"},
		Route{Host: "pass.test", Passthrough: bl.Addr().String()},
		Route{Host: "engine.test", ALPN: "rstrm/1", Service: "agent"},
	)
	cfg.Services["agent"] = echoService("agent")
	// A short read-header timeout: it bounds the ClientHello, not a relay.
	ts := m.start(t, cfg, loop.Config{ReadHeaderTimeout: 500 * time.Millisecond})

	tests := []struct {
		name, sni string
		alpn      []string
		want      string // service, or an answer prefix
	}{
		{"engine host", "engine.test", nil, "svc=api"},
		{"engine host upper case", "ENGINE.test", nil, "svc=api"},
		{"mapped host", "other.test", nil, "svc=other"},
		{"wildcard", "a.example.test", nil, "svc=other"},
		{"engine host by ALPN", "engine.test", []string{"rstrm/1"}, "svc=agent"},
		{"tunnel host", "abc.t.engine.test", nil, "HTTP/1.1 503 Service Unavailable " + TunnelUnavailableMessage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			alpn := tt.alpn
			if alpn == nil {
				alpn = []string{"h2", "http/1.1"}
			}
			if tt.name == "engine host by ALPN" {
				// echoService speaks http/1.1 only: offer both, routed by rstrm/1.
				alpn = append(alpn, "http/1.1")
			}
			line, _, err := get(t, ts.addr, clientConfig(tt.sni, 0, alpn...), tt.sni)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(line, tt.want) {
				t.Fatalf("answer %q, want %q", line, tt.want)
			}
		})
	}

	t.Run("unknown name without default", func(t *testing.T) {
		_, _, err := get(t, ts.addr, clientConfig("nobody.test", 0), "")
		if err == nil || !strings.Contains(err.Error(), "unrecognized name") {
			t.Fatalf("error %v, want the unrecognized_name alert", err)
		}
	})

	t.Run("passthrough", func(t *testing.T) {
		c, err := tls.Dial("tcp", ts.addr, clientConfig("pass.test", 0))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if s := c.ConnectionState().PeerCertificates[0].SerialNumber.Int64(); s != 555 {
			t.Fatalf("certificate serial %d, want the backend's 555", s)
		}
		time.Sleep(800 * time.Millisecond) // past the read-header timeout
		payload := make([]byte, 1<<20)
		_, _ = rand.Read(payload)
		go func() { _, _ = c.Write(payload) }()
		got := make([]byte, len(payload))
		if _, err := io.ReadFull(c, got); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, payload) {
			t.Fatal("passthrough echo differs from what was sent")
		}
	})

	t.Run("passthrough half-close", func(t *testing.T) {
		// Raw TCP through the route: a ClientHello for pass.test, then our
		// FIN; the backend's answer (its TLS flight) still arrives, then its
		// close.
		raw, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		_ = raw.SetDeadline(time.Now().Add(10 * time.Second))
		hello := captureHello(t, clientConfig("pass.test", 0))
		if _, err := raw.Write(hello); err != nil {
			t.Fatal(err)
		}
		if err := raw.(*net.TCPConn).CloseWrite(); err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(raw)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) < 5 || b[0] != 0x16 {
			t.Fatalf("backend answer %x..., want a handshake record", b[:min(len(b), 8)])
		}
	})
}

// captureHello returns the ClientHello a Go client sends with conf.
func captureHello(t testing.TB, conf *tls.Config) []byte {
	t.Helper()
	a, b := net.Pipe()
	go func() {
		_ = tls.Client(a, conf).Handshake()
	}()
	buf := make([]byte, 16<<10)
	_ = b.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := b.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	_ = b.Close()
	_ = a.Close()
	return buf[:n]
}

func TestDefaultRoute(t *testing.T) { eachMode(t, testDefaultRoute) }

func testDefaultRoute(t *testing.T, m mode) {
	cfg := baseConfig()
	cfg.Default = "other"
	ts := m.start(t, cfg, loop.Config{})
	line, _, err := get(t, ts.addr, clientConfig("nobody.test", 0, "http/1.1"), "")
	if err == nil {
		t.Fatalf("a name the certificate does not cover was accepted: %q", line)
	}
	conf := clientConfig("nobody.test", 0, "http/1.1")
	conf.InsecureSkipVerify = true // the default certificate does not name it
	line, _, err = get(t, ts.addr, conf, "")
	if err != nil {
		t.Fatal(err)
	}
	if a := answer(t, line); a["svc"] != "other" || a["sni"] != "nobody.test" {
		t.Fatalf("answer %v, want the default service", a)
	}
}

func TestNoEngineHostNoDefault(t *testing.T) { eachMode(t, testNoEngineHostNoDefault) }

func testNoEngineHostNoDefault(t *testing.T, m mode) {
	cfg := Config{Routes: []Route{{Host: "other.test", Service: "other"}}, Services: map[string]Service{"other": echoService("other")}}
	ts := m.start(t, cfg, loop.Config{})
	conf := clientConfig("", 0)
	conf.InsecureSkipVerify = true
	if _, _, err := get(t, ts.addr, conf, ""); err == nil || !strings.Contains(err.Error(), "unrecognized name") {
		t.Fatalf("no SNI and no default: %v, want the unrecognized_name alert", err)
	}
	if line, _, err := get(t, ts.addr, clientConfig("other.test", 0), ""); err != nil || answer(t, line)["svc"] != "other" {
		t.Fatalf("other.test: %q %v", line, err)
	}
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	c, k := leaf(t, 7, false, "engine.test")
	pair := writePair(t, dir, "p", c, k)
	svcs := map[string]Service{"api": echoService("api")}
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no certs", Config{}, "no certificate"},
		{"missing file", Config{Certs: []CertPair{{CertFile: dir + "/none.crt", KeyFile: pair.KeyFile}}}, "none.crt"},
		{"api not registered", Config{Certs: []CertPair{pair}, EngineHost: "engine.test"}, `"api"`},
		{"bad host", Config{Certs: []CertPair{pair}, Services: svcs, Routes: []Route{{Host: "a b", Service: "api"}}}, `"a b"`},
		{"both targets", Config{Certs: []CertPair{pair}, Services: svcs, Routes: []Route{{Host: "a.test", Service: "api", Passthrough: "127.0.0.1:1"}}}, "exactly one"},
		{"bad backend", Config{Certs: []CertPair{pair}, Services: svcs, Routes: []Route{{Host: "a.test", Passthrough: "nohost"}}}, `"nohost"`},
		{"unknown default", Config{Certs: []CertPair{pair}, Services: svcs, Default: "nope"}, `"nope"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(tt.cfg)
			if err == nil {
				_ = s.Shutdown(context.Background())
				t.Fatalf("New accepted %+v", tt.cfg)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not mention %s", err, tt.want)
			}
		})
	}
}

func TestCurl(t *testing.T) { eachMode(t, testCurl) }

func testCurl(t *testing.T, m mode) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl not installed")
	}
	ts := m.start(t, baseConfig(), loop.Config{})
	_, port, _ := net.SplitHostPort(ts.addr)
	for _, args := range [][]string{
		{"--tlsv1.2", "--tls-max", "1.2"},
		{"--tlsv1.3"},
		{"--http2"}, // offers h2 and http/1.1: gets http/1.1
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			cmd := exec.Command("curl", append([]string{"-sS", "--max-time", "10", "--cacert", ts.ca,
				"--resolve", "engine.test:" + port + ":127.0.0.1", "-w", "\\nproto=%{http_version}",
				"https://engine.test:" + port + "/x"}, args...)...)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("curl: %v\n%s", err, out)
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			a := answer(t, lines[0])
			want := uint16(tls.VersionTLS13)
			if args[0] == "--tlsv1.2" {
				want = tls.VersionTLS12
			}
			checkSignal(t, a, "api", "engine.test", want)
			if lines[len(lines)-1] != "proto=1.1" {
				t.Errorf("curl used %s, want HTTP/1.1", lines[len(lines)-1])
			}
		})
	}
}

func TestOpenSSL(t *testing.T) { eachMode(t, testOpenSSL) }

func testOpenSSL(t *testing.T, m mode) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	ts := m.start(t, baseConfig(), loop.Config{})
	for _, v := range []string{"-tls1_2", "-tls1_3"} {
		t.Run(v, func(t *testing.T) {
			cmd := exec.Command("openssl", "s_client", "-connect", ts.addr, "-servername", "other.test",
				"-alpn", "h2,http/1.1", "-CAfile", ts.ca, "-verify_return_error", "-ign_eof", v)
			cmd.Stdin = strings.NewReader("GET / HTTP/1.1\r\nHost: other.test\r\nConnection: close\r\n\r\n")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("openssl: %v\n%s", err, out)
			}
			s := string(out)
			if !strings.Contains(s, "ALPN protocol: http/1.1") || !strings.Contains(s, "Verify return code: 0 (ok)") {
				t.Fatalf("openssl output lacks ALPN http/1.1 or a verified chain:\n%s", s)
			}
			i := strings.Index(s, "svc=")
			if i < 0 {
				t.Fatalf("no answer in:\n%s", s)
			}
			line, _, _ := strings.Cut(s[i:], "\n")
			want := uint16(tls.VersionTLS13)
			if v == "-tls1_2" {
				want = tls.VersionTLS12
			}
			checkSignal(t, answer(t, line), "other", "other.test", want)
		})
	}
}
