package persist

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisServer is a private redis-server on 127.0.0.1 without persistence,
// stopped by PID when the test ends. The cluster and TLS tests use it
// because they need redis-server arguments that testenv.StartRedis does
// not take; the other tests use testenv.
type redisServer struct {
	Addr string
	bin  string
	tls  *tls.Config
	args []string
	dir  string

	mu  sync.Mutex
	cmd *exec.Cmd
}

// redisServerBin returns the path of redis-server, or skips t (fails it
// under BRINK_REQUIRE_E2E=1) when it is not installed.
func redisServerBin(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("BRINK_REQUIRE_E2E") == "1" {
			t.Fatalf("redis-server not installed (BRINK_REQUIRE_E2E=1; run scripts/install-edge-deps.sh)")
		}
		t.Skip("redis-server not installed; run scripts/install-edge-deps.sh (or set BRINK_REQUIRE_E2E=1 to fail instead)")
	}
	return bin
}

// startRedisServer starts redis-server with extra arguments on a free port.
func startRedisServer(t testing.TB, extra ...string) *redisServer {
	t.Helper()
	return startRedisServerTLS(t, nil, extra...)
}

// startRedisServerTLS starts redis-server with extra arguments on a free
// port; with tlsCfg (used to PING it) the port is a TLS port and the extra
// arguments must name the certificate files.
func startRedisServerTLS(t testing.TB, tlsCfg *tls.Config, extra ...string) *redisServer {
	t.Helper()
	bin := redisServerBin(t)
	dir := t.TempDir()
	for attempt := 0; attempt < 3; attempt++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		s := &redisServer{
			Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
			bin:  bin,
			dir:  dir,
			tls:  tlsCfg,
			args: append([]string{
				"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
				"--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning",
				"--logfile", filepath.Join(dir, "redis.log"),
			}, extra...),
		}
		if tlsCfg != nil {
			s.args[1] = "0"
			s.args = append(s.args, "--tls-port", strconv.Itoa(port))
		}
		if err := s.start(); err != nil {
			if attempt < 2 && strings.Contains(err.Error(), "exited") {
				continue // port taken in between: try another
			}
			t.Fatal(err)
		}
		t.Cleanup(func() { s.stop() })
		return s
	}
	panic("unreachable")
}

func (s *redisServer) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cmd := exec.Command(s.bin, s.args...)
	cmd.Dir = s.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	s.cmd = cmd
	c := redis.NewClient(&redis.Options{Addr: s.Addr, TLSConfig: s.tls, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case err := <-exited:
			log, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
			return fmt.Errorf("redis-server exited early: %v\n%s", err, log)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			return fmt.Errorf("redis-server on %s did not answer PING: %v", s.Addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop kills the server by PID and waits until its port refuses connections.
func (s *redisServer) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	s.cmd = nil
	for range 200 {
		c, err := net.DialTimeout("tcp", s.Addr, 100*time.Millisecond)
		if err != nil {
			return
		}
		_ = c.Close()
		time.Sleep(10 * time.Millisecond)
	}
}
