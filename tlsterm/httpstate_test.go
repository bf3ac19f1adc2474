package tlsterm

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net"
	"testing"
	"time"

	"github.com/brink-edge/brink/loop"
)

// lineService is an HTTPConnService speaking a line protocol the way
// http1.Server.ServeConn speaks HTTP: it reports its state through
// HTTPNew, HTTPActive and HTTPIdle, answers "done\n" to each line ("slow"
// waits for release first), and "done close\n" then closes while the
// Server drains.
func lineService(started chan<- struct{}, release <-chan struct{}) HTTPConnService {
	return HTTPConnService{Serve: func(nc net.Conn) error {
		c := nc.(*Conn)
		c.HTTPNew()
		br := bufio.NewReader(c)
		for first := true; ; first = false {
			if !first && c.HTTPIdle() {
				return nil
			}
			if _, err := br.Peek(1); err != nil {
				return err
			}
			c.HTTPActive()
			line, err := br.ReadString('\n')
			if err != nil {
				return err
			}
			if line == "slow\n" {
				started <- struct{}{}
				<-release
			}
			if c.Draining() {
				_, err := io.WriteString(c, "done close\n")
				return err
			}
			if _, err := io.WriteString(c, "done\n"); err != nil {
				return err
			}
		}
	}}
}

// TestHTTPStateDrain: with a service reporting its state through Conn's
// HTTP methods, Shutdown closes at once a connection idle after a request
// and one that sent nothing, lets the one in a request finish (told to
// close), and returns when it is gone.
func TestHTTPStateDrain(t *testing.T) { eachMode(t, testHTTPStateDrain) }

func testHTTPStateDrain(t *testing.T, m mode) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	cfg := baseConfig()
	cfg.Services["api"] = lineService(started, release)
	ts := m.start(t, cfg, loop.Config{})
	dial := func() (*tls.Conn, *bufio.Reader) {
		c, err := tls.Dial("tcp", ts.addr, clientConfig("engine.test", 0, "http/1.1"))
		if err != nil {
			t.Fatal(err)
		}
		if p := c.ConnectionState().NegotiatedProtocol; p != "http/1.1" {
			t.Fatalf("ALPN %q, want http/1.1", p)
		}
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		t.Cleanup(func() { _ = c.Close() })
		return c, bufio.NewReader(c)
	}
	idle, idleR := dial()
	_, _ = io.WriteString(idle, "fast\n")
	if line, err := idleR.ReadString('\n'); err != nil || line != "done\n" {
		t.Fatalf("first line: %q %v", line, err)
	}
	_, quietR := dial()
	busy, busyR := dial()
	_, _ = io.WriteString(busy, "slow\n")
	<-started
	deadline := time.Now().Add(3 * time.Second)
	for ts.Open() != 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := ts.Open(); n != 3 {
		t.Fatalf("%d open connections, want 3", n)
	}

	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- ts.Shutdown(ctx)
	}()
	for name, r := range map[string]*bufio.Reader{"idle": idleR, "new": quietR} {
		if b, err := r.ReadByte(); err != io.EOF {
			t.Fatalf("%s connection: read %q, %v, want EOF", name, b, err)
		}
	}
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned %v with a request in progress", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	if line, err := busyR.ReadString('\n'); err != nil || line != "done close\n" {
		t.Fatalf("request in progress: %q %v, want the closing answer", line, err)
	}
	if _, err := busyR.ReadByte(); err != io.EOF {
		t.Fatalf("busy connection after its answer: %v, want EOF", err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Shutdown did not return after the last request")
	}
	if n := ts.Open(); n != 0 {
		t.Fatalf("%d connections left open", n)
	}
}
