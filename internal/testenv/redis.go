package testenv

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Redis is a private redis-server on 127.0.0.1: no persistence (--save "",
// --appendonly no), so a restart comes back empty, like a lost cache node.
type Redis struct {
	// Addr is host:port, fixed for the life of the value (restarts reuse it).
	Addr string

	bin  string
	dir  string
	port int

	mu sync.Mutex
	p  *proc
}

// redisBin finds redis-server.
func redisBin() (string, error) {
	if p, err := exec.LookPath("redis-server"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/bin/redis-server", "/usr/sbin/redis-server", "/usr/local/bin/redis-server"} {
		if executable(p) {
			return p, nil
		}
	}
	return "", missing("redis-server")
}

// StartRedis runs redis-server on a free 127.0.0.1 port with a private
// directory and waits until it answers PING. It is stopped by PID when the
// test ends. A missing redis-server skips the test (fails under
// BRINK_REQUIRE_E2E=1).
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	bin, err := redisBin()
	if err != nil {
		fail(t, err)
	}
	dir, err := instanceDir("redis")
	if err != nil {
		fail(t, err)
	}
	r := &Redis{bin: bin, dir: dir}
	t.Cleanup(func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.p != nil {
			if err := r.p.stop(syscall.SIGTERM, 5*time.Second); err != nil {
				t.Errorf("testenv: %v", err)
			}
		}
		_ = removeAll(dir)
	})
	// A port can be taken between freePort and redis binding it: retry.
	for attempt := 0; ; attempt++ {
		if r.port, err = freePort(); err != nil {
			fail(t, err)
		}
		r.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(r.port))
		err = r.start()
		if err == nil {
			return r
		}
		if attempt == 2 || !strings.Contains(err.Error(), "exited early") {
			fail(t, err)
		}
	}
}

func (r *Redis) start() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.p != nil && !r.p.exited() {
		return nil
	}
	cmd := exec.Command(r.bin,
		"--port", strconv.Itoa(r.port),
		"--bind", "127.0.0.1",
		"--dir", r.dir,
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--logfile", "",
		"--loglevel", "warning",
	)
	cmd.Dir = r.dir
	p, err := startProc("redis-server", cmd, filepath.Join(r.dir, "redis.log"), syscall.SIGKILL)
	if err != nil {
		return err
	}
	r.p = p
	return waitFor(p, 10*time.Second, 20*time.Millisecond, func() error {
		v, err := r.do(time.Second, "PING")
		if err != nil {
			return err
		}
		if v != "PONG" {
			return fmt.Errorf("PING answered %v", v)
		}
		return nil
	})
}

// Start starts a stopped Redis again on the same address (empty: nothing is
// persisted) and waits for PING. It does nothing while Redis runs.
func (r *Redis) Start(t testing.TB) {
	t.Helper()
	if err := r.start(); err != nil {
		t.Fatalf("testenv: restart redis on %s: %v", r.Addr, err)
	}
}

// Stop stops Redis (SIGTERM to its PID, SIGKILL after 5 s) and waits until it
// has exited, so that connections to Addr are refused. Start brings it back.
func (r *Redis) Stop(t testing.TB) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.p == nil {
		return
	}
	if err := r.p.stop(syscall.SIGTERM, 5*time.Second); err != nil {
		t.Fatalf("testenv: %v", err)
	}
}

// Kill kills Redis with SIGKILL (a crash) and waits until it has exited.
func (r *Redis) Kill(t testing.TB) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.p == nil {
		return
	}
	if err := r.p.stop(syscall.SIGKILL, 5*time.Second); err != nil {
		t.Fatalf("testenv: %v", err)
	}
}

// Running reports whether the Redis process is alive.
func (r *Redis) Running() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.p != nil && !r.p.exited()
}

// Do sends one command over a fresh connection (raw RESP, 5 s deadline) and
// returns the reply: string for simple and bulk strings, nil for a null
// reply, int64 for integers, []any for arrays, and an error for -ERR replies
// and connection failures. Tests use it to look at what brink persisted, e.g.
// Do("GET", "unleash-features").
func (r *Redis) Do(args ...string) (any, error) {
	return r.do(5*time.Second, args...)
}

func (r *Redis) do(timeout time.Duration, args ...string) (any, error) {
	conn, err := net.DialTimeout("tcp", r.Addr, timeout)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(timeout))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := io.WriteString(conn, b.String()); err != nil {
		return nil, err
	}
	return readRESP(bufio.NewReader(conn))
}

// RedisError is an error reply (-ERR ...) from Redis.
type RedisError string

func (e RedisError) Error() string { return string(e) }

// readRESP reads one RESP2 reply.
func readRESP(rd *bufio.Reader) (any, error) {
	line, err := rd.ReadString('\n')
	if err != nil {
		return nil, err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return nil, errors.New("resp: empty line")
	}
	kind, rest := line[0], line[1:]
	switch kind {
	case '+':
		return rest, nil
	case '-':
		return nil, RedisError(rest)
	case ':':
		return strconv.ParseInt(rest, 10, 64)
	case '$':
		n, err := strconv.Atoi(rest)
		if err != nil {
			return nil, fmt.Errorf("resp: bad bulk length %q", rest)
		}
		if n < 0 {
			return nil, nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(rd, buf); err != nil {
			return nil, err
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(rest)
		if err != nil {
			return nil, fmt.Errorf("resp: bad array length %q", rest)
		}
		if n < 0 {
			return nil, nil
		}
		out := make([]any, n)
		for i := range out {
			v, err := readRESP(rd)
			var re RedisError
			if err != nil && !errors.As(err, &re) {
				return nil, err
			}
			if err != nil {
				v = re
			}
			out[i] = v
		}
		return out, nil
	}
	return nil, fmt.Errorf("resp: unexpected reply %q", line)
}
