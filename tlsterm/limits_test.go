package tlsterm

import (
	"crypto/tls"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/brink-edge/brink/loop"
)

// TestResumption: a second connection resumes from the ticket of the
// first, and the signal says so.
func TestResumption(t *testing.T) { eachMode(t, testResumption) }

func testResumption(t *testing.T, m mode) {
	ts := m.start(t, baseConfig(), loop.Config{})
	for _, v := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
		conf := clientConfig("engine.test", v, "http/1.1")
		conf.ClientSessionCache = tls.NewLRUClientSessionCache(4)
		for i, want := range []string{"false", "true"} {
			line, cs, err := get(t, ts.addr, conf, "")
			if err != nil {
				t.Fatal(err)
			}
			if a := answer(t, line); a["resumed"] != want || cs.DidResume != (want == "true") {
				t.Fatalf("%s connection %d: signal resumed=%s, client DidResume=%v, want %s", versionName(v), i, a["resumed"], cs.DidResume, want)
			}
		}
	}
}

// halfHandshake sends a ClientHello and reads the server's flight, leaving
// the handshake open on a worker.
func halfHandshake(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if _, err := c.Write(captureHello(t, clientConfig("engine.test", 0))); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := io.ReadFull(c, make([]byte, 5)); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestBusyRefused(t *testing.T) { eachMode(t, testBusyRefused) }

func testBusyRefused(t *testing.T, m mode) {
	cfg := baseConfig()
	cfg.MaxHandshakes, cfg.HandshakeQueue = 1, 1
	ts := m.start(t, cfg, loop.Config{})
	halfHandshake(t, ts.addr) // on the worker
	// The second waits in the queue: it gets no flight, so do not read.
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(captureHello(t, clientConfig("engine.test", 0))); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for ts.pending.Load() != 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if _, _, err := get(t, ts.addr, clientConfig("engine.test", 0), ""); err == nil || !strings.Contains(err.Error(), "internal error") {
		t.Fatalf("third handshake with one worker and a queue of one: %v, want an internal_error alert", err)
	}
}

func TestMaxConns(t *testing.T) { eachMode(t, testMaxConns) }

func testMaxConns(t *testing.T, m mode) {
	cfg := baseConfig()
	cfg.MaxConns = 1
	ts := m.start(t, cfg, loop.Config{})
	halfHandshake(t, ts.addr)
	if _, _, err := get(t, ts.addr, clientConfig("engine.test", 0), ""); err == nil || !strings.Contains(err.Error(), "internal error") {
		t.Fatalf("second connection with MaxConns 1: %v, want an internal_error alert", err)
	}
}
