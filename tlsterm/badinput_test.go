package tlsterm

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/brink-edge/brink/loop"
)

// sendRaw writes b (in chunks when asked) and returns what the server
// answered before closing, failing if it does not close within 3 s.
func sendRaw(t *testing.T, addr string, chunks ...[]byte) []byte {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	for _, b := range chunks {
		if _, err := c.Write(b); err != nil {
			break // the server may close before we are done
		}
	}
	got, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection still open after 3 s (read %q)", got)
	}
	return got
}

func TestBadInput(t *testing.T) { eachMode(t, testBadInput) }

func testBadInput(t *testing.T, m mode) {
	ts := m.start(t, baseConfig(), loop.Config{ReadHeaderTimeout: 300 * time.Millisecond})
	serving := func(t *testing.T) {
		t.Helper()
		if line, _, err := get(t, ts.addr, clientConfig("engine.test", 0), ""); err != nil || answer(t, line)["svc"] != "api" {
			t.Fatalf("server stopped serving: %q %v", line, err)
		}
	}
	alert := func(desc byte) []byte { return []byte{0x15, 3, 3, 0, 2, 2, desc} }
	hello := captureHello(t, clientConfig("engine.test", 0))

	t.Run("random bytes", func(t *testing.T) {
		r := rand.New(rand.NewPCG(1, 2))
		for i := range 20 {
			b := make([]byte, 1+r.IntN(3000))
			for j := range b {
				b[j] = byte(r.Uint32())
			}
			if i%2 == 0 {
				b[0] = 0x16 // looks like a handshake record at first
			}
			sendRaw(t, ts.addr, b)
		}
		serving(t)
	})
	t.Run("plain HTTP", func(t *testing.T) {
		got := sendRaw(t, ts.addr, []byte("GET / HTTP/1.1\r\nHost: engine.test\r\n\r\n"))
		if !bytes.HasPrefix(got, []byte("HTTP/1.1 400 ")) || !bytes.Contains(got, []byte("HTTPS")) {
			t.Fatalf("answer %q, want a 400 saying the port speaks HTTPS", got)
		}
		serving(t)
	})
	t.Run("hello over 16 KiB", func(t *testing.T) {
		// A record announcing a 20,000-byte ClientHello.
		big := append([]byte{0x16, 3, 1, 0x40, 0x00, 1, 0x00, 0x4e, 0x20}, make([]byte, 16380)...)
		if got := sendRaw(t, ts.addr, big); !bytes.Equal(got, alert(alertRecordOverflow)) {
			t.Fatalf("answer %x, want a record_overflow alert", got)
		}
		// The same in records that each look fine.
		var recs []byte
		for len(recs) < 17<<10 {
			recs = append(recs, 0x16, 3, 1, 0x10, 0x00)
			if len(recs) == 5 {
				recs = append(recs, 1, 0x00, 0x4e, 0x20)
				recs = append(recs, make([]byte, 0x1000-4)...)
			} else {
				recs = append(recs, make([]byte, 0x1000)...)
			}
		}
		if got := sendRaw(t, ts.addr, recs[:8<<10], recs[8<<10:]); !bytes.Equal(got, alert(alertRecordOverflow)) {
			t.Fatalf("answer %x, want a record_overflow alert", got)
		}
		serving(t)
	})
	t.Run("malformed hello", func(t *testing.T) {
		bad := append([]byte(nil), hello...)
		bad[5] = 2 // server_hello, not client_hello
		if got := sendRaw(t, ts.addr, bad); !bytes.Equal(got, alert(alertDecodeError)) {
			t.Fatalf("answer %x, want a decode_error alert", got)
		}
		serving(t)
	})
	t.Run("slowloris half a hello", func(t *testing.T) {
		start := time.Now()
		if got := sendRaw(t, ts.addr, hello[:len(hello)/2]); len(got) != 0 {
			t.Fatalf("answer %x to half a hello, want a silent close", got)
		}
		if d := time.Since(start); d < 250*time.Millisecond {
			t.Fatalf("closed after %v, before the read-header timeout", d)
		}
		serving(t)
	})
	t.Run("hello in bytes", func(t *testing.T) {
		// The hello in 97-byte pieces: the loop waits for it whole.
		c, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for i := 0; i < len(hello); i += 97 {
			if _, err := c.Write(hello[i:min(i+97, len(hello))]); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Millisecond)
		}
		_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
		b := make([]byte, 5)
		if _, err := io.ReadFull(c, b); err != nil || b[0] != 0x16 {
			t.Fatalf("no ServerHello after a fragmented ClientHello: %x %v", b, err)
		}
	})
	t.Run("client leaves mid-handshake", func(t *testing.T) {
		c, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(3 * time.Second))
		if _, err := c.Write(hello); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 5)
		if _, err := io.ReadFull(c, b); err != nil || b[0] != 0x16 {
			t.Fatalf("no server flight: %x %v", b, err)
		}
		_ = c.Close()
		deadline := time.Now().Add(3 * time.Second)
		for !strings.Contains(ts.logs.String(), "handshake failed") && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if !strings.Contains(ts.logs.String(), "reason=client_closed") {
			t.Errorf("abandoned handshake not logged as client_closed:\n%s", ts.logs.String())
		}
		serving(t)
	})
	if !strings.Contains(ts.logs.String(), "not a TLS connection") {
		t.Errorf("non-TLS connections not logged at debug:\n%s", ts.logs.String())
	}
}
