package tlsterm

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/brink-edge/brink/loop"
)

// TestShutdown: an idle keep-alive connection is closed at once, a request
// in progress finishes (told to close), and Shutdown returns when both are
// gone; a service that never ends is closed when the grace runs out.
func TestShutdown(t *testing.T) { eachMode(t, testShutdown) }

func testShutdown(t *testing.T, m mode) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	cfg := baseConfig()
	cfg.Services["api"] = NewHTTPService(func(ctx *fasthttp.RequestCtx) {
		if string(ctx.Path()) == "/slow" {
			started <- struct{}{}
			<-release
		}
		ctx.SetBodyString("done")
	})
	ts := m.start(t, cfg, loop.Config{})
	dial := func() (*tls.Conn, *bufio.Reader) {
		c, err := tls.Dial("tcp", ts.addr, clientConfig("engine.test", 0))
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		t.Cleanup(func() { _ = c.Close() })
		return c, bufio.NewReader(c)
	}
	idle, idleR := dial()
	fmt.Fprint(idle, "GET / HTTP/1.1\r\nHost: engine.test\r\n\r\n")
	var resp fasthttp.Response
	if err := resp.Read(idleR); err != nil || string(resp.Body()) != "done" {
		t.Fatalf("first request: %v %q", err, resp.Body())
	}
	busy, busyR := dial()
	fmt.Fprint(busy, "GET /slow HTTP/1.1\r\nHost: engine.test\r\n\r\n")
	<-started
	if n := ts.Open(); n != 2 {
		t.Fatalf("%d open connections, want 2", n)
	}

	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- ts.Shutdown(ctx)
	}()
	// The idle connection is closed without waiting.
	if _, err := idleR.ReadByte(); err != io.EOF {
		t.Fatalf("idle connection: %v, want EOF", err)
	}
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned %v with a request in progress", err)
	case <-time.After(100 * time.Millisecond):
	}
	// New handshakes are refused.
	if _, err := tls.Dial("tcp", ts.addr, clientConfig("engine.test", 0)); err == nil || !strings.Contains(err.Error(), "user canceled") {
		t.Fatalf("handshake during shutdown: %v, want the user_canceled alert", err)
	}
	close(release)
	resp.Reset()
	if err := resp.Read(busyR); err != nil || string(resp.Body()) != "done" || !resp.ConnectionClose() {
		t.Fatalf("request in progress: %v %q close=%v, want done and Connection: close", err, resp.Body(), resp.ConnectionClose())
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

type stuckService struct{}

func (stuckService) ServeConn(c net.Conn) error {
	_, err := io.Copy(io.Discard, c) // until the connection is closed
	return err
}

func TestShutdownGrace(t *testing.T) { eachMode(t, testShutdownGrace) }

func testShutdownGrace(t *testing.T, m mode) {
	cfg := baseConfig()
	cfg.Services["api"] = stuckService{}
	ts := m.start(t, cfg, loop.Config{})
	c, err := tls.Dial("tcp", ts.addr, clientConfig("engine.test", 0))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	deadline := time.Now().Add(3 * time.Second)
	for ts.Open() != 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := ts.Shutdown(ctx); err != context.DeadlineExceeded {
		t.Fatalf("Shutdown: %v, want the grace's deadline", err)
	}
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("connection still open after the grace")
	}
	if ts.Open() != 0 {
		t.Fatalf("%d connections counted after the grace", ts.Open())
	}
	if !strings.Contains(ts.logs.String(), "grace ran out") {
		t.Errorf("forced close not logged:\n%s", ts.logs.String())
	}
}

// TestServicePanic: a panicking service costs its connection only.
func TestServicePanic(t *testing.T) { eachMode(t, testServicePanic) }

func testServicePanic(t *testing.T, m mode) {
	cfg := baseConfig()
	cfg.Services["other"] = NewHTTPService(func(*fasthttp.RequestCtx) { panic("boom") })
	ts := m.start(t, cfg, loop.Config{})
	if line, _, err := get(t, ts.addr, clientConfig("other.test", 0), ""); err == nil && strings.TrimSpace(line) != "" {
		t.Fatalf("a panicking handler answered %q", line)
	}
	if line, _, err := get(t, ts.addr, clientConfig("engine.test", 0), ""); err != nil || answer(t, line)["svc"] != "api" {
		t.Fatalf("after a panic: %q %v", line, err)
	}
	if !strings.Contains(ts.logs.String(), "service panicked") {
		t.Errorf("panic not logged:\n%s", ts.logs.String())
	}
}

// TestSetServiceTunnel: registering the tunnel engine replaces the 503.
func TestSetServiceTunnel(t *testing.T) { eachMode(t, testSetServiceTunnel) }

func testSetServiceTunnel(t *testing.T, m mode) {
	ts := m.start(t, baseConfig(), loop.Config{})
	conf := clientConfig("a.t.engine.test", 0)
	if line, _, _ := get(t, ts.addr, conf, ""); !strings.Contains(line, " 503 ") {
		t.Fatalf("tunnel host before registration: %q", line)
	}
	ts.SetService(ServiceTunnel, echoService("tunnel"))
	if line, _, err := get(t, ts.addr, conf, ""); err != nil || answer(t, line)["svc"] != "tunnel" {
		t.Fatalf("tunnel host after registration: %q %v", line, err)
	}
}
