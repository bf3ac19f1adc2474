package e2e

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// TestRelayPlainDefaultFront runs `brink relay` without a certificate and
// without --server: the event loop is brink's default front, but a relay on
// plain HTTP gets fasthttp.Server (its requests wait on the upstream, which
// would stall the loop), says so in its log, and forwards with the licence
// and the signal header, keeping connections alive.
func TestRelayPlainDefaultFront(t *testing.T) {
	var mu sync.Mutex
	var got []http.Header
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/score" { // signal batches, reachability probes
			_, _ = io.Copy(io.Discard, r.Body)
			w.WriteHeader(http.StatusAccepted)
			return
		}
		mu.Lock()
		got = append(got, r.Header.Clone())
		mu.Unlock()
		_, _ = io.WriteString(w, "upstream "+r.URL.Path)
	}))
	t.Cleanup(up.Close)
	ports := freePorts(t, 1)
	base := "http://127.0.0.1:" + strconv.Itoa(ports[0])
	b := startProc(t, procOptions{args: []string{"relay"},
		env: []string{"PORT=" + strconv.Itoa(ports[0]), "INTERFACE=127.0.0.1", "OCTET_URL=" + up.URL, "LICENSE=" + relayLicense},
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
		resp, err := c.Get(base + "/v1/score")
		if err != nil {
			t.Fatalf("request %d through brink relay: %v", i, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(body) != "upstream /v1/score" || resp.Close {
			t.Fatalf("request %d: status %d, close %v, body %q", i, resp.StatusCode, resp.Close, body)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 3 {
		t.Fatalf("upstream saw %d requests, want 3", len(got))
	}
	for i, h := range got {
		if h.Get("X-License-Key") != relayLicense || !strings.HasPrefix(h.Get("X-Brink-Signal"), "v1 ") {
			t.Errorf("request %d at the upstream: licence %q, signal %q", i, h.Get("X-License-Key"), h.Get("X-Brink-Signal"))
		}
	}
	if log := b.log.String(); !strings.Contains(log, "fasthttp.Server") {
		t.Errorf("brink relay on plain HTTP did not say it serves on fasthttp.Server:\n%s", log)
	}
}
