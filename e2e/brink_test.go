package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Tokens brink is started with. Offline mode accepts exactly these.
const (
	clientToken   = "*:development.e2e-client-secret"
	projAToken    = "projA:development.xyz"
	frontendToken = "*:development.e2e-frontend-secret"
)

// brink is one running brink process serving testdata/features.json (or
// brinkOptions.bootstrap).
type brink struct {
	url  string // http://127.0.0.1:PORT
	port int
	cmd  *exec.Cmd
	log  *syncBuffer
	// exited delivers cmd.Wait's result; stopOnce guards Stop, which the
	// test may call before its cleanup does.
	exited   chan error
	stopOnce sync.Once
}

// brinkOptions changes how startBrinkWith starts brink; the zero value is
// startBrink's setup.
type brinkOptions struct {
	// bootstrap is the file brink serves (-b); empty: testdata/features.json.
	bootstrap string
	// port to listen on; 0: a free one. A fixed port is for restarting a
	// brink on the port its clients know.
	port int
	// args are added to the command line (e.g. "-r", "1").
	args []string
}

// syncBuffer collects a child's output; the race detector sees the child's
// copy goroutine and the test reading it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startBrink starts brink in offline mode on a free loopback port with the
// e2e dataset and tokens, waits until /internal-backstage/ready answers 200
// and stops it (by PID) when the test ends.
func startBrink(t *testing.T) *brink {
	t.Helper()
	return startBrinkWith(t, brinkOptions{})
}

// startBrinkWith is startBrink with options: another bootstrap file, a
// fixed port, more arguments. The brink is stopped when the test ends, or
// earlier by Stop.
func startBrinkWith(t *testing.T, o brinkOptions) *brink {
	t.Helper()
	bootstrap := o.bootstrap
	if bootstrap == "" {
		bootstrap = filepath.Join(repoRoot, "e2e", "testdata", "features.json")
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ { // the free port may be taken between probe and bind
		port := o.port
		if port == 0 {
			var err error
			if port, err = freePort(); err != nil {
				t.Fatalf("free port: %v", err)
			}
		} else if attempt > 0 {
			time.Sleep(200 * time.Millisecond) // a fixed port may still be held briefly
		}
		b := &brink{url: "http://127.0.0.1:" + strconv.Itoa(port), port: port, log: &syncBuffer{}}
		args := []string{"offline",
			"-b", bootstrap,
			"--client-tokens", clientToken + "," + projAToken,
			"--frontend-tokens", frontendToken,
			"-p", strconv.Itoa(port), "-i", "127.0.0.1"}
		b.cmd = exec.Command(brinkBin, append(args, o.args...)...)
		b.cmd.Stdout, b.cmd.Stderr = b.log, b.log
		if err := b.cmd.Start(); err != nil {
			t.Fatalf("start brink: %v", err)
		}
		b.exited = make(chan error, 1)
		go func() { b.exited <- b.cmd.Wait() }()
		if lastErr = b.waitReady(b.exited, 15*time.Second); lastErr == nil {
			t.Cleanup(func() { b.Stop(t) })
			return b
		}
		b.kill(b.exited)
	}
	t.Fatalf("brink did not become ready: %v", lastErr)
	return nil
}

// Stop stops brink now (SIGTERM by PID, as stop); later calls, and the
// test's cleanup, do nothing more.
func (b *brink) Stop(t *testing.T) {
	b.stopOnce.Do(func() { b.stop(t, b.exited) })
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (b *brink) waitReady(exited <-chan error, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	c := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("brink exited before ready (%v):\n%s", err, b.log.String())
		default:
		}
		resp, err := c.Get(b.url + "/internal-backstage/ready")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("no 200 from %s/internal-backstage/ready within %v; log:\n%s", b.url, limit, b.log.String())
}

// stop sends SIGTERM to brink's PID, waits up to 10 s (Edge's graceful
// shutdown bound), then kills it.
func (b *brink) stop(t *testing.T, exited <-chan error) {
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Errorf("brink (pid %d) still running 10s after SIGTERM; killing it", b.cmd.Process.Pid)
		b.kill(exited)
	}
	if t.Failed() {
		t.Logf("brink log:\n%s", b.log.String())
	}
}

func (b *brink) kill(exited <-chan error) {
	_ = b.cmd.Process.Kill()
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
	}
}

// do sends one request to brink and decodes a JSON answer into out (when
// non-nil). It fails the test on transport errors or an unexpected status.
func (b *brink) do(t *testing.T, method, path, token string, body any, wantStatus int, out any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		buf, err := json.Marshal(body)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		rd = bytes.NewReader(buf)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, b.url+path, rd)
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	if resp.StatusCode != wantStatus {
		t.Fatalf("%s %s: status %d, want %d; body %s", method, path, resp.StatusCode, wantStatus, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: decoding %s: %v", method, path, raw, err)
		}
	}
}

// frontendAll is brink's own answer for ctx: POST /api/frontend/all with the
// context as body, frontend token. It returns the toggles by name.
func (b *brink) frontendAll(t *testing.T, ctx map[string]any) map[string]toggle {
	t.Helper()
	var resp struct {
		Toggles []toggle `json:"toggles"`
	}
	b.do(t, http.MethodPost, "/api/frontend/all", frontendToken, ctx, http.StatusOK, &resp)
	m := make(map[string]toggle, len(resp.Toggles))
	for _, tg := range resp.Toggles {
		m[tg.Name] = tg
	}
	return m
}

// frontendEnabled is brink's POST /api/frontend answer (enabled toggles only)
// for ctx, in brink's order.
func (b *brink) frontendEnabled(t *testing.T, ctx map[string]any) []toggle {
	t.Helper()
	var resp struct {
		Toggles []toggle `json:"toggles"`
	}
	b.do(t, http.MethodPost, "/api/frontend", frontendToken, ctx, http.StatusOK, &resp)
	return resp.Toggles
}

// metricsBatch is /internal-backstage/metricsbatch.
type metricsBatch struct {
	Applications []struct {
		AppName    string `json:"appName"`
		InstanceID string `json:"instanceId"`
		SDKVersion string `json:"sdkVersion"`
	} `json:"applications"`
	Metrics []struct {
		Bucket struct {
			FeatureName string         `json:"featureName"`
			AppName     string         `json:"appName"`
			Yes         int            `json:"yes"`
			No          int            `json:"no"`
			Variants    map[string]int `json:"variants"`
		} `json:"bucket"`
	} `json:"metrics"`
}

func (b *brink) metricsBatch(t *testing.T) metricsBatch {
	t.Helper()
	var mb metricsBatch
	b.do(t, http.MethodGet, "/internal-backstage/metricsbatch", "", nil, http.StatusOK, &mb)
	return mb
}

// counts sums brink's metrics for one app by feature.
func (mb metricsBatch) counts(app string) map[string]*flagCount {
	out := map[string]*flagCount{}
	for _, m := range mb.Metrics {
		if m.Bucket.AppName != app {
			continue
		}
		c := out[m.Bucket.FeatureName]
		if c == nil {
			c = &flagCount{Variants: map[string]int{}}
			out[m.Bucket.FeatureName] = c
		}
		c.Yes += m.Bucket.Yes
		c.No += m.Bucket.No
		for v, n := range m.Bucket.Variants {
			c.Variants[v] += n
		}
	}
	return out
}

// requireDep skips the test when a dependency is missing, or fails it when
// BRINK_REQUIRE_E2E=1 (CI).
func requireDep(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if os.Getenv("BRINK_REQUIRE_E2E") == "1" {
		t.Fatalf("%v (BRINK_REQUIRE_E2E=1; run scripts/install-sdk-deps.sh)", err)
	}
	t.Skipf("skipping: %v (run scripts/install-sdk-deps.sh; BRINK_REQUIRE_E2E=1 turns this into a failure)", err)
}
