package loop

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// handoffHandler waits for a line "handoff", then takes the socket and
// serves it from a goroutine: it first answers the replayed bytes (those
// the loop had received) as "replay:<bytes>", then echoes lines with a
// "net:" prefix until EOF, then closes.
type handoffHandler struct {
	closes  atomic.Int64
	errs    atomic.Int64
	served  chan struct{}
	written chan struct{}
}

func (h *handoffHandler) OnOpen(*Conn)  {}
func (h *handoffHandler) OnClose(*Conn) { h.closes.Add(1) }

func (h *handoffHandler) OnData(c *Conn, in []byte) (int, Action) {
	if !bytes.Contains(in, []byte("handoff\n")) {
		return 0, Continue
	}
	_, _ = c.WriteString("dropped\n") // discarded by the handoff
	f, err := c.Handoff()
	if err != nil {
		h.errs.Add(1)
		return 0, Close
	}
	if _, err := c.Handoff(); !errors.Is(err, ErrHandoff) {
		h.errs.Add(1)
	}
	replay := append([]byte(nil), in...)
	go func() {
		defer close(h.served)
		nc, err := net.FileConn(f)
		_ = f.Close()
		if err != nil {
			h.errs.Add(1)
			return
		}
		defer nc.Close()
		<-h.written // the loop has let go of the socket before we answer
		_, _ = nc.Write(append(append([]byte("replay:"), bytes.ReplaceAll(replay, []byte("\n"), []byte("|"))...), '\n'))
		r := bufio.NewReader(nc)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			_, _ = io.WriteString(nc, "net:"+line)
		}
	}()
	return 0, Continue
}

func TestHandoff(t *testing.T) {
	h := &handoffHandler{served: make(chan struct{}), written: make(chan struct{})}
	s, err := New(Config{Addr: "127.0.0.1:0", Loops: 1, ReadHeaderTimeout: 200 * time.Millisecond, IdleTimeout: 200 * time.Millisecond}, h)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	<-s.Ready()

	c := dial(t, s.Addr())
	if c.Conn.LocalAddr() == nil {
		t.Fatal("no local address")
	}
	c.send(t, "hello\n")
	time.Sleep(20 * time.Millisecond)
	c.send(t, "handoff\nrest")
	// The loop lets go: OnClose runs and its count drops, while the
	// connection stays up.
	deadline := time.Now().Add(5 * time.Second)
	for (h.closes.Load() == 0 || s.Conns() != 0) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if h.closes.Load() != 1 || s.Conns() != 0 {
		t.Fatalf("after the handoff: OnClose ran %d times, loop holds %d conns; want 1 and 0", h.closes.Load(), s.Conns())
	}
	close(h.written)
	if got := c.line(t); got != "replay:hello|handoff|rest" {
		t.Fatalf("first answer %q, want the replayed bytes and no loop output", got)
	}
	// Longer than the loop's idle and read-header timeouts: the loop no
	// longer times the connection.
	time.Sleep(500 * time.Millisecond)
	c.send(t, "more\n")
	// "rest" was received by the loop, so it came in the replay only.
	if got := c.line(t); got != "net:more" {
		t.Fatalf("echo %q, want net:more", got)
	}
	if err := c.Conn.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-h.served:
	case <-time.After(5 * time.Second):
		t.Fatal("the handed-off goroutine did not see EOF")
	}
	c.eof(t, 2*time.Second)
	if n := h.errs.Load(); n != 0 {
		t.Fatalf("%d handoff errors", n)
	}
}

func TestHandoffOffline(t *testing.T) {
	c := NewOffline(nil, nil)
	if _, err := c.Handoff(); !errors.Is(err, ErrHandoff) {
		t.Fatalf("offline Handoff: %v, want ErrHandoff", err)
	}
}
