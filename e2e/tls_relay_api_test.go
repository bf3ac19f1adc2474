package e2e

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestTLSAPIWithRelayRoute runs the flag API (offline mode) over TLS with
// a relay route in front of it: on one kept-alive TLS connection, flag
// requests are answered by the API and /octet/ requests are forwarded as
// bytes (http1.Server.ServeConn) to the upstream, with the licence, the
// connection's signal and X-Forwarded-Proto https, a forged signal dropped,
// over one kept-alive upstream connection; a dot segment is refused.
func TestTLSAPIWithRelayRoute(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got []http.Header
	upConns := map[string]bool{}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/v1/octet/") { // signal batches, probes
			_, _ = io.Copy(io.Discard, r.Body)
			w.WriteHeader(http.StatusAccepted)
			return
		}
		mu.Lock()
		got = append(got, r.Header.Clone())
		upConns[r.RemoteAddr] = true
		mu.Unlock()
		_, _ = io.WriteString(w, "upstream "+r.URL.Path)
	}))
	t.Cleanup(up.Close)

	dir := t.TempDir()
	ca := newTestCA(t, dir, "tlsrelay")
	srv := ca.issue(t, dir, "server", 50, "brink.test")
	port := freePorts(t, 1)[0]
	addr := "127.0.0.1:" + strconv.Itoa(port)
	yaml := fmt.Sprintf(`server:
  interface: 127.0.0.1
tls:
  listen_addr: %q
  cert_file: %q
  key_file: %q
relay:
  url: %q
  license: %q
  flush_interval: 100ms
  routes:
    - path_prefix: /octet
`, addr, srv.certPath, srv.keyPath, up.URL+"/v1", relayLicense)
	cfgPath := filepath.Join(dir, "brink.yaml")
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	startProc(t, procOptions{
		args: []string{"-c", cfgPath, "offline", "-b", filepath.Join(repoRoot, "e2e", "testdata", "features.json"),
			"--frontend-tokens", frontendToken},
		ready: tlsReady(addr, ca.pool, "brink.test", "/internal-backstage/ready"),
	})

	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{RootCAs: ca.pool, ServerName: "brink.test"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	for i := range 2 {
		code, body, err := httpOver(c, br, "brink.test", frontendQuery, frontendToken)
		if err != nil || code != http.StatusOK || !strings.Contains(string(body), "e2e-default-on") {
			t.Fatalf("flag request %d: %d %s %v", i, code, body, err)
		}
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		_, _ = io.WriteString(c, "GET /octet/score?i="+strconv.Itoa(i)+" HTTP/1.1\r\nHost: brink.test\r\nX-Brink-Signal: v1 forged\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("relayed request %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(b) != "upstream /v1/octet/score" || resp.Close {
			t.Fatalf("relayed request %d: %d %q close %v", i, resp.StatusCode, b, resp.Close)
		}
	}
	_, _ = io.WriteString(c, "GET /octet/../admin HTTP/1.1\r\nHost: brink.test\r\n\r\n")
	if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode == http.StatusOK {
		t.Fatalf("a dot segment under the relay route: %v %v, want it refused", resp, err)
	}

	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 || len(upConns) != 1 {
		t.Fatalf("the upstream saw %d relayed requests on %d connections, want 2 on 1", len(got), len(upConns))
	}
	for i, h := range got {
		sig := h.Values("X-Brink-Signal")
		if h.Get("X-License-Key") != relayLicense || len(sig) != 1 || !strings.HasPrefix(sig[0], "v1 ") || sig[0] == "v1 forged" ||
			h.Get("X-Forwarded-Proto") != "https" {
			t.Errorf("relayed request %d at the upstream: licence %q, signal %q, proto %q", i, h.Get("X-License-Key"), sig, h.Get("X-Forwarded-Proto"))
		}
	}
}
