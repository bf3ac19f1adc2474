package loop

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// relayHandler forwards each line a client sends to an upstream over an
// Out of the client's loop (one upstream connection per client, dialled
// on its first line), one line at a time: the client is held while the
// upstream answers, and its pipelined lines wait for Resume. "end" from
// the upstream's answer ends the client's connection.
type relayHandler struct {
	upAddr     string
	ticks      atomic.Int64
	outCloses  atomic.Int64
	clientGone atomic.Int64
}

type relayConn struct {
	c       *Conn
	o       *Out
	pending []byte // the line waiting for the dial
	waiting bool
}

func (h *relayHandler) OnOpen(c *Conn) { c.SetContext(&relayConn{c: c}) }

func (h *relayHandler) OnClose(c *Conn) {
	rc := c.Context().(*relayConn)
	if rc.o != nil {
		h.clientGone.Add(1)
		rc.o.Close()
	}
}

func (h *relayHandler) OnData(c *Conn, in []byte) (int, Action) {
	rc := c.Context().(*relayConn)
	if rc.waiting {
		return 0, Continue
	}
	i := bytes.IndexByte(in, '\n')
	if i < 0 {
		return 0, Continue
	}
	line := in[:i+1]
	rc.waiting = true
	c.Hold()
	if rc.o == nil {
		rc.pending = append(rc.pending[:0], line...)
		rc.o = c.Dial(h.upAddr, 2*time.Second, h, rc)
		return i + 1, Continue
	}
	if err := rc.o.Write(line); err != nil {
		_, _ = c.WriteString("write failed\n")
		return i + 1, Close
	}
	return i + 1, Continue
}

func (h *relayHandler) OnOutOpen(o *Out, err error) {
	rc := o.Context().(*relayConn)
	if err != nil {
		rc.o = nil
		_, _ = rc.c.WriteString("dial failed\n")
		rc.c.End()
		return
	}
	if o.Write(rc.pending) != nil {
		rc.c.CloseNow()
	}
}

func (h *relayHandler) OnOutData(o *Out, in []byte) (int, bool) {
	rc := o.Context().(*relayConn)
	i := bytes.IndexByte(in, '\n')
	if i < 0 {
		return 0, false
	}
	c := rc.c
	_, _ = c.Write(in[:i+1])
	rc.waiting = false
	c.Unhold()
	if string(in[:i]) == "END" {
		rc.o = nil
		c.End()
		return i + 1, true
	}
	if c.Flush() != nil {
		return i + 1, true
	}
	c.Resume()
	return i + 1, false
}

func (h *relayHandler) OnOutClose(o *Out) {
	h.outCloses.Add(1)
	rc := o.Context().(*relayConn)
	rc.o = nil
	_, _ = rc.c.WriteString("upstream closed\n")
	rc.c.End()
}

func (h *relayHandler) OnLoopTick(local *any, _ int64) {
	if *local == nil {
		*local = new(int)
	}
	*(*local).(*int)++
	h.ticks.Add(1)
}

// upcaseServer answers each line upper-cased; "bye" closes the
// connection without answering.
func upcaseServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer nc.Close()
				r := bufio.NewReader(nc)
				for {
					s, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if s == "bye\n" {
						return
					}
					if s == "slow\n" {
						time.Sleep(700 * time.Millisecond)
					}
					if _, err := nc.Write([]byte(strings.ToUpper(s))); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func startRelay(t *testing.T, h *relayHandler) *Server {
	t.Helper()
	s, err := New(Config{Addr: "127.0.0.1:0", Loops: 2, IdleTimeout: 400 * time.Millisecond, ReadHeaderTimeout: 400 * time.Millisecond}, h)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	<-s.Ready()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return s
}

func TestOutForwardsAndResumesPipelined(t *testing.T) {
	h := &relayHandler{upAddr: upcaseServer(t)}
	s := startRelay(t, h)
	c := dial(t, s.Addr())
	c.send(t, "one\n")
	if got := c.line(t); got != "ONE" {
		t.Fatalf("got %q, want ONE", got)
	}
	// Three lines at once: the second and third wait in the loop's buffer
	// while the first is upstream, and Resume hands them over in order.
	c.send(t, "a\nb\nc\n")
	for _, want := range []string{"A", "B", "C"} {
		if got := c.line(t); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	// A held client outlives the idle and read-header timeouts (400 ms)
	// while the upstream answers, with a line pipelined behind.
	c.send(t, "slow\nz\n")
	for _, want := range []string{"SLOW", "Z"} {
		if got := c.line(t); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	if h.ticks.Load() == 0 {
		t.Fatal("OnLoopTick was never called")
	}
	c.send(t, "end\n")
	if got := c.line(t); got != "END" {
		t.Fatalf("got %q, want END", got)
	}
	c.eof(t, 2*time.Second)
}

func TestOutDialFailure(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close() // nothing listens there now
	h := &relayHandler{upAddr: addr}
	s := startRelay(t, h)
	c := dial(t, s.Addr())
	c.send(t, "x\n")
	if got := c.line(t); got != "dial failed" {
		t.Fatalf("got %q, want the dial failure", got)
	}
	c.eof(t, 2*time.Second)
}

func TestOutPeerClose(t *testing.T) {
	h := &relayHandler{upAddr: upcaseServer(t)}
	s := startRelay(t, h)
	c := dial(t, s.Addr())
	c.send(t, "hi\n")
	if got := c.line(t); got != "HI" {
		t.Fatalf("got %q", got)
	}
	c.send(t, "bye\n")
	if got := c.line(t); got != "upstream closed" {
		t.Fatalf("got %q, want the upstream's close reported", got)
	}
	c.eof(t, 2*time.Second)
	if h.outCloses.Load() != 1 {
		t.Fatalf("OnOutClose ran %d times, want 1", h.outCloses.Load())
	}
}

func TestOutClientLeavesWhileWaiting(t *testing.T) {
	// An upstream that never answers.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	accepted := make(chan net.Conn, 1)
	go func() {
		nc, err := ln.Accept()
		if err == nil {
			accepted <- nc
		}
	}()
	h := &relayHandler{upAddr: ln.Addr().String()}
	s := startRelay(t, h)
	c := dial(t, s.Addr())
	c.send(t, "wait\n")
	var up net.Conn
	select {
	case up = <-accepted:
	case <-time.After(3 * time.Second):
		t.Fatal("the upstream was not dialled")
	}
	defer up.Close()
	_ = c.Close()
	// The handler closes its Out when the client leaves: the upstream sees
	// EOF, and no OnOutClose is reported for a close the handler asked.
	_ = up.SetReadDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, 64)
	for {
		if _, err := up.Read(buf); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("the upstream connection stayed open after the client left")
			}
			break
		}
	}
	if h.clientGone.Load() != 1 || h.outCloses.Load() != 0 {
		t.Fatalf("client closes seen %d (want 1), OnOutClose %d (want 0)", h.clientGone.Load(), h.outCloses.Load())
	}
}
