// Package testenv starts the real parts that brink's edge-mode tests talk to:
// Redis, PostgreSQL and the Unleash server (npm unleash-server 8.x on Node 22),
// each as a private process on a free 127.0.0.1 port, stopped by PID when the
// test ends. It is meant for other packages' tests; it uses only the standard
// library.
//
// The binaries come from scripts/install-edge-deps.sh: Debian redis-server and
// postgresql 15, Node 22 in .cache/node22 and unleash-server in
// .cache/unleash-server. When one is missing the calling test is skipped with
// the reason, unless BRINK_REQUIRE_E2E=1, which turns the skip into a failure
// (CI sets it so that a broken install cannot pass as a skip).
//
// Every process is started with a parent-death signal, so that nothing
// outlives the test binary even when it is killed; temporary directories of
// dead test binaries are swept by the next one. [Main] additionally stops the
// shared Unleash of [SharedUnleash] and removes its files at the end of a
// test binary.
package testenv

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// RequireEnv names the environment variable that turns "dependency missing"
// skips into failures when set to 1.
const RequireEnv = "BRINK_REQUIRE_E2E"

// Required reports whether BRINK_REQUIRE_E2E=1, i.e. missing dependencies fail
// the test instead of skipping it.
func Required() bool { return os.Getenv(RequireEnv) == "1" }

// missingError says that a dependency is not installed: tests skip on it
// (or fail under BRINK_REQUIRE_E2E=1).
type missingError struct{ what string }

func (e *missingError) Error() string { return e.what + " not installed" }

func missing(format string, args ...any) error {
	return &missingError{what: fmt.Sprintf(format, args...)}
}

// fail ends the test for err: a skip for a missing dependency (unless
// required), a failure otherwise.
func fail(t testing.TB, err error) {
	t.Helper()
	var m *missingError
	if errors.As(err, &m) {
		if Required() {
			t.Fatalf("testenv: %v (%s=1; run scripts/install-edge-deps.sh)", err, RequireEnv)
		}
		t.Skipf("testenv: %v; run scripts/install-edge-deps.sh (or set %s=1 to fail instead)", err, RequireEnv)
	}
	t.Fatalf("testenv: %v", err)
}

// --- locations -----------------------------------------------------------------

const modulePath = "github.com/brink-edge/brink"

var (
	rootOnce sync.Once
	rootDir  string
	rootErr  error
)

// repoRoot finds the module root: up from the working directory (go test
// runs in the package directory), else from this source file.
func repoRoot() (string, error) {
	rootOnce.Do(func() {
		isRoot := func(dir string) bool {
			b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
			return err == nil && bytes.HasPrefix(bytes.TrimSpace(b), []byte("module "+modulePath+"\n"))
		}
		if wd, err := os.Getwd(); err == nil {
			for dir := wd; ; dir = filepath.Dir(dir) {
				if isRoot(dir) {
					rootDir = dir
					return
				}
				if filepath.Dir(dir) == dir {
					break
				}
			}
		}
		if _, file, _, ok := runtime.Caller(0); ok {
			dir := filepath.Join(filepath.Dir(file), "..", "..")
			if isRoot(dir) {
				rootDir = filepath.Clean(dir)
				return
			}
		}
		rootErr = errors.New("cannot find the brink module root (go.mod) from the working directory")
	})
	return rootDir, rootErr
}

// CacheDir is where scripts/install-edge-deps.sh installs Node 22 and
// unleash-server: $BRINK_CACHE_DIR, else <module root>/.cache.
func CacheDir() (string, error) {
	if d := os.Getenv("BRINK_CACHE_DIR"); d != "" {
		return d, nil
	}
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, ".cache"), nil
}

// executable reports whether path is a regular executable file.
func executable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// --- temporary directories ---------------------------------------------------------

var (
	baseOnce sync.Once
	baseDir  string
	baseErr  error
)

const basePrefix = "brink-testenv-"

// instanceDir makes a fresh directory for one process under this test
// binary's base directory (/tmp/brink-testenv-<pid>-*, mode 0711 so that the
// postgres user can reach its data directory). The first call sweeps the base
// directories of test binaries that are gone.
func instanceDir(name string) (string, error) {
	baseOnce.Do(func() {
		sweepStale()
		baseDir, baseErr = os.MkdirTemp("", basePrefix+strconv.Itoa(os.Getpid())+"-")
		if baseErr == nil {
			baseErr = os.Chmod(baseDir, 0o711)
		}
	})
	if baseErr != nil {
		return "", baseErr
	}
	return os.MkdirTemp(baseDir, name+"-")
}

// sweepStale removes base directories whose test binary no longer runs (one
// killed before its cleanups, or one that used SharedUnleash without Main).
func sweepStale() {
	entries, err := os.ReadDir(os.TempDir())
	if err != nil {
		return
	}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), basePrefix)
		if !ok || !e.IsDir() {
			continue
		}
		pidStr, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid <= 0 || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			_ = os.RemoveAll(filepath.Join(os.TempDir(), e.Name()))
		}
	}
}

// --- ports -------------------------------------------------------------------------

// freePort asks the kernel for a free 127.0.0.1 TCP port. Another process may
// take it before ours binds; starters retry on an early exit.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// --- processes ---------------------------------------------------------------------

// spawnReq asks the spawner goroutine to start a command.
type spawnReq struct {
	cmd *exec.Cmd
	err chan error
}

var (
	spawnOnce sync.Once
	spawnCh   chan spawnReq
)

// spawn starts cmd from one goroutine locked to its OS thread for the life of
// the process. Linux delivers the parent-death signal when the *thread* that
// forked the child exits; a thread that never exits makes it mean "when the
// test binary exits", however it exits.
func spawn(cmd *exec.Cmd) error {
	spawnOnce.Do(func() {
		spawnCh = make(chan spawnReq)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread lives as long as the process
			for r := range spawnCh {
				r.err <- r.cmd.Start()
			}
		}()
	})
	r := spawnReq{cmd: cmd, err: make(chan error, 1)}
	spawnCh <- r
	return <-r.err
}

// proc is one started child process.
type proc struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	log     *os.File
	done    chan struct{} // closed when the process has exited
	waitErr error
}

// startProc starts cmd (output to logPath) with a parent-death signal and in
// its own process group, so that a terminal's ^C reaches only the test binary.
// deathSig is what the child gets when the test binary dies.
func startProc(name string, cmd *exec.Cmd, logPath string, deathSig syscall.Signal) (*proc, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = f, f
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pdeathsig = deathSig
	if err := spawn(cmd); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, logPath: logPath, log: f, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends sig to the process (by PID, through os.Process, which knows
// when the PID is no longer ours), waits up to grace for it to exit,
// then kills it and waits for that too (bounded).
func (p *proc) stop(sig syscall.Signal, grace time.Duration) error {
	if p.exited() {
		return nil
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
		return nil
	case <-time.After(grace):
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.done:
		return fmt.Errorf("%s (pid %d) ignored %v for %v and was killed", p.name, p.pid(), sig, grace)
	case <-time.After(10 * time.Second):
		return fmt.Errorf("%s (pid %d) survived SIGKILL for 10s", p.name, p.pid())
	}
}

// exitErr describes an early exit with the end of the process's log.
func (p *proc) exitErr() error {
	return fmt.Errorf("%s exited early (%v); end of %s:\n%s", p.name, p.waitErr, p.logPath, tail(p.logPath, 30))
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  | " + strings.Join(lines, "\n  | ")
}

// waitFor polls ready every interval until it returns nil, the process exits
// or timeout passes.
func waitFor(p *proc, timeout, interval time.Duration, ready func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := ready()
		if err == nil {
			return nil
		}
		if p.exited() {
			return p.exitErr()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %v: %v; end of %s:\n%s", p.name, timeout, err, p.logPath, tail(p.logPath, 30))
		}
		select {
		case <-p.done:
		case <-time.After(interval):
		}
	}
}

// removeAll removes a directory tree; as root it can remove what the
// postgres user created in it.
func removeAll(dir string) error {
	if dir == "" {
		return nil
	}
	return os.RemoveAll(dir)
}
