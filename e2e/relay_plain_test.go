package e2e

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestRelayPlainDefaultFront runs `brink relay` without a certificate and
// without --server: the event loop, brink's default front, forwards to the
// http:// upstream itself (http1's proxy), with the licence and the signal
// header, a forged signal removed, keeping both sides' connections alive;
// and the loop ships each connection's signal record when it opens.
func TestRelayPlainDefaultFront(t *testing.T) {
	var mu sync.Mutex
	var got []http.Header
	var batches int
	upConns := map[string]bool{}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ingest/signals" {
			mu.Lock()
			batches++
			mu.Unlock()
		}
		if r.URL.Path != "/v1/score" { // signal batches, reachability probes
			_, _ = io.Copy(io.Discard, r.Body)
			w.WriteHeader(http.StatusAccepted)
			return
		}
		mu.Lock()
		got = append(got, r.Header.Clone())
		if r.ProtoMinor == 1 && len(got) <= 3 { // the three kept-alive requests
			upConns[r.RemoteAddr] = true
		}
		mu.Unlock()
		_, _ = io.WriteString(w, "upstream "+r.URL.Path)
	}))
	t.Cleanup(up.Close)
	ports := freePorts(t, 1)
	base := "http://127.0.0.1:" + strconv.Itoa(ports[0])
	b := startProc(t, procOptions{args: []string{"relay"},
		env: []string{"PORT=" + strconv.Itoa(ports[0]), "INTERFACE=127.0.0.1", "OCTET_URL=" + up.URL, "LICENSE=" + relayLicense,
			"BRINK_RELAY__FLUSH_INTERVAL=100ms"},
		ready: func() error {
			resp, err := http.Get(base + "/health")
			if err != nil {
				return err
			}
			resp.Body.Close()
			return nil
		}})
	c := &http.Client{}
	for i := range 3 {
		req, _ := http.NewRequest(http.MethodGet, base+"/v1/score", nil)
		req.Header.Set("x-brink-signal", "v1 forged")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("request %d through brink relay: %v", i, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(body) != "upstream /v1/score" || resp.Close {
			t.Fatalf("request %d: status %d, close %v, body %q", i, resp.StatusCode, resp.Close, body)
		}
	}
	// HTTP/1.0 takes the relay's fasthttp client off the loop; a dot
	// segment is refused before anything is forwarded.
	for _, tc := range []struct{ req, want string }{
		{"GET /v1/score HTTP/1.0\r\n\r\n", "upstream /v1/score"},
		{"GET /v1/../score HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "dot segment"},
	} {
		nc, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(ports[0]))
		if err != nil {
			t.Fatal(err)
		}
		_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
		_, _ = io.WriteString(nc, tc.req)
		b, _ := io.ReadAll(nc)
		_ = nc.Close()
		if !strings.Contains(string(b), tc.want) {
			t.Errorf("%q: got %q, want %q", tc.req, b, tc.want)
		}
	}
	eventually(t, 5*time.Second, "a signal batch at the upstream", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return batches > 0
	})
	mu.Lock()
	defer mu.Unlock()
	if len(upConns) != 1 {
		t.Errorf("the upstream saw the relayed requests on %d connections, want 1 (kept alive)", len(upConns))
	}
	if len(got) != 4 {
		t.Fatalf("upstream saw %d requests, want 4", len(got))
	}
	for i, h := range got {
		if h.Get("X-License-Key") != relayLicense || !strings.HasPrefix(h.Get("X-Brink-Signal"), "v1 ") ||
			len(h.Values("X-Brink-Signal")) != 1 || h.Get("X-Brink-Signal") == "v1 forged" {
			t.Errorf("request %d at the upstream: licence %q, signal %q", i, h.Get("X-License-Key"), h.Get("X-Brink-Signal"))
		}
	}
	if log := b.log.String(); !strings.Contains(log, "loop listening") || strings.Contains(log, "fasthttp.Server") {
		t.Errorf("brink relay on plain HTTP with an http:// upstream does not serve on the event loop:\n%s", log)
	}
}
