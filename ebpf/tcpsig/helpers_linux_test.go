//go:build linux

package tcpsig

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// requireEBPF is set by .ci/run: eBPF tests fail instead of skipping.
var requireEBPF = os.Getenv("BRINK_REQUIRE_EBPF") == "1"

// skipIfNotSupported skips t with the reason when err says the kernel or
// the privileges do not allow eBPF, fails it instead under
// BRINK_REQUIRE_EBPF=1, and fails it on any other error: a skipped eBPF test
// never passes silently in CI.
func skipIfNotSupported(t testing.TB, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if !isUnavailable(err) {
		t.Fatalf("unexpected error (not a missing feature or privilege): %v", err)
	}
	if requireEBPF {
		t.Fatalf("BRINK_REQUIRE_EBPF=1 but eBPF is unavailable: %v", err)
	}
	t.Skipf("eBPF unavailable (set BRINK_REQUIRE_EBPF=1 to fail instead): %v", err)
}

// requireRoot skips (or fails, under BRINK_REQUIRE_EBPF=1) a test that needs
// root: loading BPF, moving between cgroups, creating network namespaces.
func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if requireEBPF {
		t.Fatalf("BRINK_REQUIRE_EBPF=1 but not running as root (euid %d)", os.Geteuid())
	}
	t.Skipf("needs root (euid %d) for BPF, cgroups and network namespaces", os.Geteuid())
}

const testCgroupPrefix = "brink-tcpsig-test-"

// testCgroup creates a child cgroup under the cgroup2 mount, moves this
// test process into it and returns its path; cleanup moves the process back
// and removes it. The sockops program is attached there, so it only ever
// sees this process's sockets: other packages' tests run in other processes
// and never meet it, and the bpf_link is fd-based, so a crashed test leaves
// nothing attached (only an empty directory, removed by the next run).
func testCgroup(t testing.TB) string {
	t.Helper()
	requireRoot(t)
	mount := cgroup2Mount()
	if mount == "" {
		skipIfNotSupported(t, fmt.Errorf("no cgroup2 mount: %w", unix.EPERM))
	}
	removeStaleCgroups(mount)
	back, err := currentCgroup(mount)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(mount, testCgroupPrefix+strconv.Itoa(os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		t.Fatalf("creating test cgroup: %v", err)
	}
	if err := moveSelf(dir); err != nil {
		os.Remove(dir)
		t.Fatalf("moving the test process into %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := moveSelf(back); err != nil {
			t.Errorf("moving the test process back to %s: %v", back, err)
		}
		// The cgroup is removable once empty; sockets still open keep
		// only a reference, not the directory.
		for i := 0; i < 50; i++ {
			if err := os.Remove(dir); err == nil || errors.Is(err, os.ErrNotExist) {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Errorf("removing test cgroup %s: still busy", dir)
	})
	return dir
}

func moveSelf(dir string) error {
	return os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(os.Getpid())), 0)
}

func currentCgroup(mount string) (string, error) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	for line := range strings.Lines(string(b)) {
		if rel, ok := strings.CutPrefix(strings.TrimSpace(line), "0::"); ok {
			return filepath.Join(mount, filepath.Clean("/"+rel)), nil
		}
	}
	return "", errors.New("no cgroup v2 line in /proc/self/cgroup")
}

// removeStaleCgroups removes empty test cgroups that crashed runs left.
func removeStaleCgroups(mount string) {
	dirs, _ := filepath.Glob(filepath.Join(mount, testCgroupPrefix+"*"))
	for _, d := range dirs {
		pid, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(d), testCgroupPrefix))
		if err != nil || pid == os.Getpid() {
			continue
		}
		if procs, err := os.ReadFile(filepath.Join(d, "cgroup.procs")); err == nil && len(procs) == 0 {
			os.Remove(d)
		}
	}
}

// openCapture opens the eBPF capturer on a test-private cgroup.
func openCapture(t testing.TB) *Capture {
	t.Helper()
	cg := testCgroup(t)
	c, err := Open(Config{CgroupPath: cg})
	skipIfNotSupported(t, err)
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return c
}

// sysFD returns the fd of a net.TCPConn or net.TCPListener; valid while it
// is open.
func sysFD(t testing.TB, c syscall.Conn) int {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var fd int
	if err := rc.Control(func(f uintptr) { fd = int(f) }); err != nil {
		t.Fatal(err)
	}
	return fd
}

// handshake is one accepted connection.
type handshake struct {
	ln       *net.TCPListener
	client   *net.TCPConn
	server   *net.TCPConn
	serverFD int
}

// listen opens a TCP listener on addr ("127.0.0.1:0", "[::1]:0") and lets
// prepare see its fd before the first connection.
func listen(t testing.TB, network, addr string, prepare func(fd int) error) *net.TCPListener {
	t.Helper()
	// Plain TCP: since Go 1.24 net.Listen uses MPTCP where the kernel has
	// it, and MPTCP sockets take no TCP_SAVE_SYN (ENOPROTOOPT) and carry no
	// sockops record (that sits on the TCP subflow).
	var lc net.ListenConfig
	lc.SetMultipathTCP(false)
	ln, err := lc.Listen(context.Background(), network, addr)
	if err != nil {
		t.Skipf("cannot listen on %s %s: %v", network, addr, err)
	}
	t.Cleanup(func() { ln.Close() })
	tl := ln.(*net.TCPListener)
	if prepare != nil {
		if err := prepare(sysFD(t, tl)); err != nil {
			t.Fatalf("PrepareListener: %v", err)
		}
	}
	return tl
}

// connect dials ln from dialAddr's family and accepts the connection.
func connect(t testing.TB, ln *net.TCPListener, network, dialAddr string) handshake {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	cc, err := d.Dial(network, dialAddr)
	if err != nil {
		t.Fatalf("dial %s: %v", dialAddr, err)
	}
	t.Cleanup(func() { cc.Close() })
	ln.SetDeadline(time.Now().Add(5 * time.Second))
	sc, err := ln.AcceptTCP()
	if err != nil {
		t.Fatalf("accept: %v", err)
	}
	t.Cleanup(func() { sc.Close() })
	return handshake{ln: ln, client: cc.(*net.TCPConn), server: sc, serverFD: sysFD(t, sc)}
}

// inNetns runs fn on a locked OS thread in a fresh network namespace with
// lo up, so that fn's sockets (and sysctls written by it) are private. The
// thread is never unlocked: it dies with the goroutine, and the namespace
// with its last socket.
func inNetns(t *testing.T, fn func()) {
	t.Helper()
	requireRoot(t)
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("unshare(CLONE_NEWNET): %w", err)
			return
		}
		if err := linkUp("lo"); err != nil {
			errc <- err
			return
		}
		defer func() { errc <- nil }()
		fn()
	}()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func linkUp(name string) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("SIOCGIFFLAGS %s: %w", name, err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("SIOCSIFFLAGS %s: %w", name, err)
	}
	return nil
}

// setSysctl writes a sysctl of the calling thread's network namespace.
func setSysctl(path, value string) error {
	return os.WriteFile(filepath.Join("/proc/sys", path), []byte(value), 0)
}

// foreignSockops returns how many sockops programs apply to the cgroup dir
// (attached to it or, inherited, to an ancestor): before Open none of them
// is ours. On a shared machine a brink run from a shell attaches its
// program to the root cgroup, and that program's listen callback sets
// BPF_SOCK_OPS_WRITE_HDR_OPT_CB_FLAG on every new listener, ours included.
func foreignSockops(t testing.TB, dir string) int {
	t.Helper()
	f, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := link.QueryPrograms(link.QueryOptions{
		Target:     int(f.Fd()),
		Attach:     ebpf.AttachCGroupSockOps,
		QueryFlags: unix.BPF_F_QUERY_EFFECTIVE,
	})
	if err != nil {
		t.Fatalf("querying the sockops programs of %s: %v", dir, err)
	}
	return len(res.Programs)
}
