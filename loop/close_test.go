package loop

import (
	"errors"
	"io"
	"testing"
	"time"
)

// waitConns waits up to within for the server's open connections to be n.
func waitConns(ts *testServer, n int, within time.Duration) bool {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if ts.Conns() == n {
			return true
		}
		time.Sleep(2 * time.Millisecond)
	}
	return ts.Conns() == n
}

// readToEOF reads what is left and asserts the server ended with a FIN
// (io.EOF), not a reset.
func (c *client) readToEOF(t *testing.T) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(c.r)
	if err != nil {
		t.Fatalf("reading to the end: %v (got %q), want a clean FIN", err, b)
	}
	return string(b)
}

func TestHandlerClose(t *testing.T) {
	ts := startTest(t, Config{Loops: 1})
	t.Run("nothing pending closes at once", func(t *testing.T) {
		c := dial(t, ts.Addr())
		c.send(t, "close\n")
		if got := c.readToEOF(t); got != "bye\n" {
			t.Fatalf("got %q, want the answer then EOF", got)
		}
		// The client has not closed; the server did not wait for it
		// (lingerTime is 2 s).
		if !waitConns(ts, 0, time.Second) {
			t.Fatalf("%d connections open: the server lingered with nothing pending", ts.Conns())
		}
	})
	t.Run("pending bytes linger", func(t *testing.T) {
		c := dial(t, ts.Addr())
		// Bytes behind the close stay unconsumed: closing at once would
		// reset the connection, so the loop sends FIN and waits.
		c.send(t, "close\nmore")
		if got := c.readToEOF(t); got != "bye\n" {
			t.Fatalf("got %q, want the answer then EOF", got)
		}
		time.Sleep(200 * time.Millisecond)
		if n := ts.Conns(); n != 1 {
			t.Fatalf("%d connections open, want the lingering one", n)
		}
		// More bytes from the client after our FIN are discarded, not reset.
		if _, err := io.WriteString(c, "still talking\n"); err != nil && !errors.Is(err, io.EOF) {
			t.Fatalf("writing after the server's FIN: %v", err)
		}
		_ = c.Close()
		if !waitConns(ts, 0, 3*time.Second) {
			t.Fatalf("%d connections open after the client closed", ts.Conns())
		}
	})
}
