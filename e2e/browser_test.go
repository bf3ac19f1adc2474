package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// needChromium returns Debian's chromium; it skips (or fails under
// BRINK_REQUIRE_E2E=1) when it is missing.
func needChromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	requireDep(t, errors.New("/usr/bin/chromium not found"))
	return ""
}

// browserBundle is the unleash-proxy-client browser build (UMD: it defines
// window.unleash), as its package.json "browser" field names it.
func browserBundle(t *testing.T) string {
	t.Helper()
	var meta struct {
		Browser string `json:"browser"`
	}
	dir := filepath.Join(sdkModules(), "unleash-proxy-client")
	raw, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err == nil {
		err = json.Unmarshal(raw, &meta)
	}
	if err == nil && meta.Browser == "" {
		err = errors.New(`no "browser" field`)
	}
	if err != nil {
		requireDep(t, fmt.Errorf("unleash-proxy-client's package.json: %v", err))
	}
	p := filepath.Join(dir, filepath.FromSlash(meta.Browser))
	if _, err := os.Stat(p); err != nil {
		requireDep(t, fmt.Errorf("unleash-proxy-client browser bundle: %v", err))
	}
	return p
}

// TestBrowserFrontendSDK loads the official frontend SDK's browser bundle in
// headless Chromium from a page served on another port than brink (so
// every request is a real cross-origin one, preflights included), runs the
// frontend scenario there and compares what the page saw with brink.
func TestBrowserFrontendSDK(t *testing.T) {
	needSDKs(t)
	chromium := needChromium(t)
	bundle := browserBundle(t)
	b := startBrink(t)
	flags := loadDataset(t).flagNames("")

	for _, usePOST := range []bool{false, true} {
		name := map[bool]string{false: "GET", true: "POST"}[usePOST]
		t.Run(name, func(t *testing.T) {
			app := "brink-e2e-browser-" + strings.ToLower(name)
			cfg := frontendConfig(b, app, flags, usePOST)
			cfg["timeoutMs"] = 20000
			page := servePage(t, bundle, cfg)
			pu, _ := url.Parse(page.URL)
			bu, _ := url.Parse(b.url)
			if pu.Host == bu.Host {
				t.Fatalf("page and brink share %s; the test needs two origins", pu.Host)
			}
			dom := dumpDOM(t, chromium, page.URL+"/", 60*time.Second)
			var run struct {
				frontendRun
				Origin  string `json:"origin"`
				Failure string `json:"failure"`
			}
			m := regexp.MustCompile(`(?s)<pre id="result">(.*?)</pre>`).FindStringSubmatch(dom)
			if m == nil {
				t.Fatalf("no <pre id=\"result\"> in the dumped DOM:\n%s", tail(dom, 3000))
			}
			if err := json.Unmarshal([]byte(html.UnescapeString(m[1])), &run); err != nil {
				t.Fatalf("the page did not finish (result %q): %v", tail(m[1], 2000), err)
			}
			if run.Failure != "" {
				t.Fatalf("page: %s; errors %q; HTTP:%s", run.Failure, run.Errors, run.exchangeLog())
			}
			if run.Origin != page.URL {
				t.Errorf("page origin %q, want %q", run.Origin, page.URL)
			}
			checkFrontendRun(t, b, &run.frontendRun, app, flags, usePOST)
		})
	}
}

// servePage serves the browser page (config injected) and the SDK bundle
// from a loopback server of its own.
func servePage(t *testing.T, bundle string, cfg map[string]any) *httptest.Server {
	t.Helper()
	tmpl, err := os.ReadFile(filepath.Join(repoRoot, "e2e", "browser", "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	// json.Marshal escapes <, > and &, so the JSON cannot end the script.
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(tmpl, []byte("CONFIG_JSON")) {
		t.Fatal("e2e/browser/index.html lacks the CONFIG_JSON placeholder")
	}
	page := bytes.Replace(tmpl, []byte("CONFIG_JSON"), cfgJSON, 1)
	js, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(page)
	})
	mux.HandleFunc("GET /unleash-proxy-client.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		w.Write(js)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// dumpDOM runs headless Chromium (with the extra flags) on pageURL and
// returns the DOM it dumps once the page's virtual time budget is spent. Chromium runs in its own
// process group, killed by its PID when over limit and on return.
func dumpDOM(t *testing.T, chromium, pageURL string, limit time.Duration, extra ...string) string {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	args := append([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--disable-extensions", "--no-default-browser-check",
		"--user-data-dir=" + filepath.Join(dir, "profile"),
		"--virtual-time-budget=30000"}, extra...)
	cmd := exec.CommandContext(ctx, chromium, append(args, "--dump-dom", pageURL)...)
	cmd.Env = append(os.Environ(), "HOME="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if cmd.Process != nil {
		// Helpers Chromium may leave behind share its process group.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	if ctx.Err() != nil {
		t.Fatalf("chromium still running after %v, killed; stderr:\n%s", limit, tail(stderr.String(), 3000))
	}
	if err != nil {
		t.Fatalf("chromium: %v; stderr:\n%s", err, tail(stderr.String(), 3000))
	}
	return stdout.String()
}
