package tlsterm

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/brink-edge/brink/loop"
)

// TestOpenSSLP384: openssl with a P-384 key share only (Go accepts it
// rather than asking for X25519 with a HelloRetryRequest): another JA4
// (groups), the same route and signal.
func TestOpenSSLP384(t *testing.T) { eachMode(t, testOpenSSLP384) }

func testOpenSSLP384(t *testing.T, m mode) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	ts := m.start(t, baseConfig(), loop.Config{})
	cmd := exec.Command("openssl", "s_client", "-connect", ts.addr, "-servername", "engine.test", "-tls1_3",
		"-groups", "P-384:X25519", "-alpn", "http/1.1", "-CAfile", ts.ca, "-verify_return_error", "-ign_eof")
	cmd.Stdin = strings.NewReader("GET / HTTP/1.1\r\nHost: engine.test\r\nConnection: close\r\n\r\n")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("openssl: %v\n%s", err, out)
	}
	s := string(out)
	i := strings.Index(s, "svc=")
	if i < 0 {
		t.Fatalf("no answer in:\n%s", s)
	}
	line, _, _ := strings.Cut(s[i:], "\n")
	checkSignal(t, answer(t, line), "api", "engine.test", 0x0304)
}
