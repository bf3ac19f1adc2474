package loop

import (
	"net"
	"sync/atomic"

	"github.com/panjf2000/gnet/v2"

	"github.com/brink-edge/brink/connsig"
)

// Action tells the loop what to do with a connection after OnData.
type Action uint8

const (
	// Continue keeps the connection open for more data.
	Continue Action = iota
	// Close sends what was written, then closes the connection. With
	// nothing more from the client pending (every byte received consumed,
	// none waiting in the socket) it closes at once, which sends a FIN.
	// Otherwise the loop shuts down its sending side and waits (briefly)
	// for the client to close, discarding what it still sends, so that the
	// last answer is not lost to a reset.
	Close
)

// Handler handles the connections of a Server. Its methods run on the
// connection's loop goroutine, one at a time per connection, and must not
// block.
type Handler interface {
	// OnOpen is called once per connection after accept and signal capture,
	// before any OnData.
	OnOpen(c *Conn)
	// OnData is called with the bytes received and not yet consumed,
	// oldest first. It returns how many of them it consumed; the rest are
	// handed over again, followed by new bytes, at the next call. in is
	// valid only during the call and must not be retained or modified.
	OnData(c *Conn, in []byte) (consumed int, action Action)
	// OnClose is called once when the connection is closed, by either side.
	// After it returns, c must not be used unless it was detached.
	OnClose(c *Conn)
}

// Conn states.
const (
	stateOpen     uint8 = iota
	stateLinger         // closing: FIN sent (or pending), input discarded
	stateDetached       // a goroutine of the handler owns the output
)

// Conn is one accepted connection. Conns are pooled: the loop reuses one
// after OnClose, except a detached one, so a Handler must not keep a Conn
// past OnClose.
type Conn struct {
	gc  gnet.Conn
	srv *Server
	ls  *loopState
	sig connsig.Signal
	out []byte
	ctx any

	// Sweep bookkeeping, touched only on the loop goroutine.
	prev, next   *Conn
	state        uint8
	fresh        bool  // no byte received since accept
	partial      bool  // unconsumed bytes are pending
	shutWR       bool  // our FIN was sent (stateLinger)
	inTraffic    bool  // OnTraffic is running
	closedInCall bool  // OnClose ran during OnTraffic: recycle at its end
	since        int64 // accept, or arrival of the pending bytes' first chunk
	lastActive   int64 // last OnData, for the idle timeout
	deadline     int64 // stateLinger: when to close regardless

	held    bool // Hold: no timeouts, not closed by the drain
	backlog int  // SetMaxBacklog: this connection's bound, 0 for the Server's
	detach  bool // OnData asked to detach
	handoff bool // OnData took the socket (Handoff): close our fd, keep no state
	closed  atomic.Bool

	// WriteAsync's rendezvous with the loop (detached conns only).
	awDone    chan struct{}
	awErr     error
	awBacklog int
	awCB      gnet.AsyncCallback

	// offline is set for a Conn made by NewOffline.
	offline              bool
	offLocal, offRemote  net.Addr
	offClosed, offDetach bool
}

// Write appends p to the connection's output, sent when the current
// OnData returns, or by Flush or End when written from an Out's callback.
// It must be called on the loop goroutine (from a Handler, OutHandler or
// LoopTicker callback). It never fails.
func (c *Conn) Write(p []byte) (int, error) {
	c.out = append(c.out, p...)
	return len(p), nil
}

// WriteString is Write for a string.
func (c *Conn) WriteString(s string) (int, error) {
	c.out = append(c.out, s...)
	return len(s), nil
}

// Signal returns the connection's signal, filled by the Capturer before
// OnOpen; read-only after that.
func (c *Conn) Signal() *connsig.Signal { return &c.sig }

// Context returns the value set by SetContext: the handler's
// per-connection state.
func (c *Conn) Context() any { return c.ctx }

// SetContext stores the handler's per-connection state; storing a pointer
// does not allocate. The loop clears it after OnClose.
func (c *Conn) SetContext(v any) { c.ctx = v }

// RemoteAddr returns the peer's address.
func (c *Conn) RemoteAddr() net.Addr {
	if c.offline {
		return c.offRemote
	}
	return c.gc.RemoteAddr()
}

// LocalAddr returns the local address of the connection.
func (c *Conn) LocalAddr() net.Addr {
	if c.offline {
		return c.offLocal
	}
	return c.gc.LocalAddr()
}

// Fd returns the connection's socket; do not close it.
func (c *Conn) Fd() int {
	if c.offline {
		return -1
	}
	return c.gc.Fd()
}

// Draining reports whether the server is shutting down: a handler should
// tell the client the connection ends after the current answer.
func (c *Conn) Draining() bool { return c.srv != nil && c.srv.draining.Load() }

// Stopping reports whether the server is past its drain, closing every
// connection: a handler should not start anything new (no dial).
func (c *Conn) Stopping() bool { return c.srv != nil && c.srv.stopping.Load() }

// Close closes the connection without waiting for buffered output to be
// sent. It is safe from any goroutine, and a no-op on a closed connection.
// From OnData, return Close instead to send what was written first.
func (c *Conn) Close() error {
	if c.offline {
		c.offClosed = true
		return nil
	}
	if c.closed.Load() {
		return nil
	}
	return c.gc.Close()
}

// Detach hands the connection's output to a goroutine of the handler; call
// it during OnData. After OnData returns, the loop sends what was written,
// then stops calling OnData (bytes received are discarded) and stops
// applying timeouts; the goroutine writes with WriteAsync and ends the
// connection with Finish (or Close). A detached Conn is not reused by the loop, so
// the goroutine may keep it after OnClose.
func (c *Conn) Detach() {
	if c.offline {
		c.offDetach = true
		return
	}
	c.detach = true
	if c.awDone == nil {
		c.awDone = make(chan struct{}, 1)
		c.awCB = c.asyncWritten
	}
}

// WriteAsync sends p from a goroutine other than the loop's, on a detached
// connection. It blocks until the loop has written p to the socket or
// copied it into the connection's buffer, so p may be reused when it
// returns. It fails with ErrClosed once the connection is closed and with
// ErrBacklog when the client is MaxBacklog bytes behind. Calls must not be
// concurrent with each other.
func (c *Conn) WriteAsync(p []byte) error {
	if c.offline {
		return ErrClosed
	}
	if c.awDone == nil {
		return ErrNotDetached
	}
	if c.closed.Load() {
		return ErrClosed
	}
	if err := c.gc.AsyncWrite(p, c.awCB); err != nil {
		return ErrClosed
	}
	select {
	case <-c.awDone:
	case <-c.srv.stopped:
		return ErrClosed
	}
	if c.awErr != nil {
		return ErrClosed
	}
	if c.awBacklog > c.srv.cfg.MaxBacklog {
		backlogCloses.Inc()
		return ErrBacklog
	}
	return nil
}

// Finish ends a detached connection from any goroutine, as the Close
// action does: the loop sends what is buffered, then sends FIN and closes
// once the client has (or lingerTime passed).
func (c *Conn) Finish() {
	if c.offline {
		c.offClosed = true
		return
	}
	if c.closed.Load() {
		return
	}
	if c.gc.AsyncWrite(nil, c.finishOnLoop) != nil {
		_ = c.gc.Close()
	}
}

// finishOnLoop runs on the loop for Finish.
func (c *Conn) finishOnLoop(gc gnet.Conn, err error) error {
	if err != nil || gc == nil || c.closed.Load() {
		return nil
	}
	c.state = stateLinger
	c.deadline = c.srv.clock.Load() + int64(lingerTime)
	if gc.OutboundBuffered() == 0 {
		c.shutWR = true
		shutdownWrite(gc.Fd())
	}
	return nil
}

// asyncWritten runs on the loop after an AsyncWrite.
func (c *Conn) asyncWritten(gc gnet.Conn, err error) error {
	c.awErr = err
	if err == nil && gc != nil {
		c.awBacklog = gc.OutboundBuffered()
	}
	c.awDone <- struct{}{}
	return nil
}

// NewOffline returns a Conn attached to no socket, for driving a Handler
// in tests and benchmarks: Write appends to Output, Close and Detach only
// record the call.
func NewOffline(local, remote net.Addr) *Conn {
	c := &Conn{offline: true, offLocal: local, offRemote: remote}
	c.sig.Reset()
	return c
}

// Output returns what was written to an offline Conn since the last
// ResetOutput.
func (c *Conn) Output() []byte { return c.out }

// ResetOutput empties an offline Conn's output, keeping its memory.
func (c *Conn) ResetOutput() { c.out = c.out[:0] }

// OfflineClosed reports whether Close was called on an offline Conn.
func (c *Conn) OfflineClosed() bool { return c.offClosed }

// OfflineDetached reports whether Detach was called on an offline Conn.
func (c *Conn) OfflineDetached() bool { return c.offDetach }
