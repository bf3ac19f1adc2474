package tlshello

import (
	"context"
	"crypto/tls"
	"flag"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/curl.hello from a fresh curl capture")

// curlTestdata is a ClientHello of curl 7.88.1 (OpenSSL 3.0, Debian 12):
// curl -sk https://brink.test:PORT/ --resolve brink.test:PORT:127.0.0.1.
const curlTestdata = "testdata/curl.hello"

// capture accepts one connection on a loopback listener, runs client
// against its address, and reads the connection in reads of at most 64
// bytes until Parse stops answering ErrNeedMore. It returns the hello's
// bytes and how many Parse calls answered ErrNeedMore.
func capture(t *testing.T, client func(addr string) error) ([]byte, int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() { done <- client(ln.Addr().String()) }()
	ln.(*net.TCPListener).SetDeadline(time.Now().Add(10 * time.Second))
	c, err := ln.Accept()
	if err != nil {
		t.Fatalf("accept: %v (client: %v)", err, <-done)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var h Hello
	var buf []byte
	var chunk [64]byte
	needMore := 0
	for {
		n, err := c.Read(chunk[:])
		buf = append(buf, chunk[:n]...)
		perr := h.Parse(buf)
		if perr == ErrNeedMore && err == nil {
			needMore++
			continue
		}
		if perr != nil {
			c.Close()
			t.Fatalf("Parse after %d bytes: %v (read: %v)", len(buf), perr, err)
		}
		break
	}
	c.Close()
	select {
	case <-done: // the client fails: the server never answered
	case <-time.After(10 * time.Second):
		t.Fatal("client did not exit")
	}
	return buf[:h.Len()], needMore
}

// checkAgainstStdlib parses raw and compares every field and both
// fingerprints with crypto/tls's reading of the same bytes and the
// reference fingerprints.
func checkAgainstStdlib(t *testing.T, raw []byte) *Hello {
	t.Helper()
	h := new(Hello)
	if err := h.Parse(raw); err != nil {
		t.Fatalf("Parse: %v", err)
	}
	in, info := stdlibInput(t, raw)
	if string(h.ServerName()) != info.ServerName {
		t.Errorf("ServerName = %q, crypto/tls %q", h.ServerName(), info.ServerName)
	}
	var alpn []string
	for i := range h.NumALPN() {
		alpn = append(alpn, string(h.ALPN(i)))
	}
	if !slices.Equal(alpn, info.SupportedProtos) {
		t.Errorf("ALPN = %q, crypto/tls %q", alpn, info.SupportedProtos)
	}
	for _, f := range []struct {
		name      string
		got, want []uint16
	}{
		{"CipherSuites", h.CipherSuites(), in.ciphers},
		{"Extensions", h.Extensions(), in.exts},
		{"SignatureAlgorithms", h.SignatureAlgorithms(), in.sigAlgs},
		{"SupportedGroups", h.SupportedGroups(), in.groups},
		{"SupportedVersions", h.SupportedVersions(), in.vers},
	} {
		if !slices.Equal(f.got, f.want) {
			t.Errorf("%s = %04x, crypto/tls %04x", f.name, f.got, f.want)
		}
	}
	if !slices.Equal(h.PointFormats(), in.points) {
		t.Errorf("PointFormats = %v, crypto/tls %v", h.PointFormats(), in.points)
	}
	if got, want := string(h.AppendJA4(nil)), refJA4(in); got != want {
		t.Errorf("JA4 = %s, reference over crypto/tls's fields %s", got, want)
	}
	wantStr, want := refJA3(in)
	if got := string(h.AppendJA3String(nil)); got != wantStr {
		t.Errorf("JA3 string = %s, reference %s", got, wantStr)
	}
	if got := string(h.AppendJA3(nil)); got != want {
		t.Errorf("JA3 = %s, reference %s", got, want)
	}
	return h
}

func TestGoClient(t *testing.T) {
	tests := []struct {
		name   string
		cfg    *tls.Config
		prefix string // JA4_a without the counts: version, SNI and ALPN
	}{
		{"TLS 1.3, SNI, h2", &tls.Config{ServerName: "brink.test", NextProtos: []string{"h2", "http/1.1"}}, "t13d..h2"},
		{"TLS 1.2 only, http/1.1", &tls.Config{ServerName: "brink.test", MaxVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}, "t12d..h1"},
		{"no SNI, no ALPN", &tls.Config{InsecureSkipVerify: true}, "t13i..00"},
		{"rstream ALPN", &tls.Config{ServerName: "a.t.brink.test", NextProtos: []string{"rstrm/1"}}, "t13d..r1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, _ := capture(t, func(addr string) error {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					return err
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				return tls.Client(c, tt.cfg).Handshake()
			})
			h := checkAgainstStdlib(t, raw)
			ja4 := string(h.AppendJA4(nil))
			if ja4[:4] != tt.prefix[:4] || ja4[8:10] != tt.prefix[6:] {
				t.Errorf("JA4 = %s, want %s", ja4, tt.prefix)
			}
			t.Logf("Go %s: %s %s", tt.name, ja4, h.AppendJA3String(nil))
			if tt.name == tests[0].name && *update {
				writeTestdata(t, "testdata/go.hello", raw)
			}
		})
	}
}

func runClient(name string, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader("")
	return cmd.Run()
}

func lookPath(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s is not installed: %v", name, err)
	}
	return p
}

func TestCurl(t *testing.T) {
	curl := lookPath(t, "curl")
	tests := []struct {
		name   string
		args   func(port string) []string
		prefix string
	}{
		{"IP, no SNI", func(p string) []string { return []string{"https://127.0.0.1:" + p + "/"} }, "t13i..h2"},
		{"SNI", func(p string) []string {
			return []string{"--resolve", "brink.test:" + p + ":127.0.0.1", "https://brink.test:" + p + "/"}
		}, "t13d..h2"},
		{"HTTP/1.1 only", func(p string) []string { return []string{"--http1.1", "https://127.0.0.1:" + p + "/"} }, "t13i..h1"},
		{"TLS 1.2 max", func(p string) []string { return []string{"--tls-max", "1.2", "https://127.0.0.1:" + p + "/"} }, "t12i..h2"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, needMore := capture(t, func(addr string) error {
				_, port, _ := net.SplitHostPort(addr)
				return runClient(curl, append([]string{"-sk", "--max-time", "3"}, tt.args(port)...)...)
			})
			if needMore == 0 {
				t.Errorf("a %d-byte hello read 64 bytes at a time never answered ErrNeedMore", len(raw))
			}
			h := checkAgainstStdlib(t, raw)
			ja4 := string(h.AppendJA4(nil))
			if ja4[:4] != tt.prefix[:4] || ja4[8:10] != tt.prefix[6:] {
				t.Errorf("JA4 = %s, want %s", ja4, tt.prefix)
			}
			t.Logf("curl %s: %s %s", tt.name, ja4, h.AppendJA3String(nil))
			if i == 1 && *update {
				writeTestdata(t, curlTestdata, raw)
			}
		})
	}
}

// TestCurlTestdata: the committed curl hello's fingerprints, checked by
// hand against its bytes (see the comments) and by the reference
// implementation over crypto/tls's parse.
func TestCurlTestdata(t *testing.T) {
	raw, err := os.ReadFile(curlTestdata)
	if err != nil {
		t.Fatal(err)
	}
	h := checkAgainstStdlib(t, raw)
	const (
		// Checked by hand (a separate Python reading of the bytes): TLS 1.3
		// (supported_versions 0304,0303,0302,0301), SNI brink.test, 31
		// cipher suites, 12 extensions (0000,000b,000a,0010,0016,0017,0031,
		// 000d,002b,002d,0033,0015), ALPN h2 first. c hashes
		// "000a,000b,000d,0015,0016,0017,002b,002d,0031,0033_0403,0503,
		// 0603,0807,0808,0809,080a,080b,0804,0805,0806,0401,0501,0601,0303,
		// 0301,0302,0402,0502,0602".
		wantJA4 = "t13d3112h2_e8f1e7e78f70_b26ce05bbdd6"
		wantJA3 = "0149f47eabf9a20d0893e2a44e5a6323"
	)
	if got := string(h.AppendJA4(nil)); got != wantJA4 {
		t.Errorf("JA4 = %s, want %s", got, wantJA4)
	}
	if got := string(h.AppendJA3(nil)); got != wantJA3 {
		t.Errorf("JA3 = %s, want %s", got, wantJA3)
	}
	if string(h.ServerName()) != "brink.test" || !h.HasALPN("http/1.1") || h.MaxVersion() != tls.VersionTLS13 {
		t.Errorf("ServerName %q, ALPN %d, MaxVersion %#x", h.ServerName(), h.NumALPN(), h.MaxVersion())
	}
}

func TestOpenSSL(t *testing.T) {
	openssl := lookPath(t, "openssl")
	tests := []struct {
		name   string
		args   []string
		prefix string
	}{
		{"SNI, h2", []string{"-servername", "brink.test", "-alpn", "h2,http/1.1"}, "t13d..h2"},
		{"no SNI", []string{"-noservername"}, "t13i..00"},
		{"TLS 1.2", []string{"-tls1_2", "-servername", "brink.test", "-alpn", "http/1.1"}, "t12d..h1"},
		{"odd ALPN", []string{"-noservername", "-alpn", "x-y_"}, "t13i.." + "7f"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, _ := capture(t, func(addr string) error {
				return runClient(openssl, append([]string{"s_client", "-connect", addr}, tt.args...)...)
			})
			h := checkAgainstStdlib(t, raw)
			ja4 := string(h.AppendJA4(nil))
			if ja4[:4] != tt.prefix[:4] || ja4[8:10] != tt.prefix[6:] {
				t.Errorf("JA4 = %s, want %s", ja4, tt.prefix)
			}
			t.Logf("openssl %s: %s %s (%d bytes)", tt.name, ja4, h.AppendJA3String(nil), len(raw))
			if tt.name == tests[0].name && *update {
				writeTestdata(t, "testdata/openssl.hello", raw)
			}
		})
	}
}

func writeTestdata(t *testing.T, name string, raw []byte) {
	t.Helper()
	if err := os.WriteFile(name, raw, 0o644); err != nil {
		t.Fatal(err)
	}
}

// testdataHellos returns the committed captures (curl, openssl, Go).
func testdataHellos(t testing.TB) map[string][]byte {
	t.Helper()
	names, err := filepath.Glob("testdata/*.hello")
	if err != nil || len(names) < 3 {
		t.Fatalf("testdata/*.hello: %v, %d files", err, len(names))
	}
	out := make(map[string][]byte)
	for _, name := range names {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(name)] = b
	}
	return out
}

// TestTestdata: every committed capture parses as crypto/tls reads it.
func TestTestdata(t *testing.T) {
	for name, raw := range testdataHellos(t) {
		t.Run(name, func(t *testing.T) { checkAgainstStdlib(t, raw) })
	}
}
