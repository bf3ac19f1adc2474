package loop

import (
	"context"
	"net"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// OutHandler handles the events of outbound connections (Out) that a
// Handler dialled with Conn.Dial. Its methods run on the loop goroutine of
// the Conn that dialled, between the callbacks of that loop's other
// connections, and must not block.
type OutHandler interface {
	// OnOutOpen is called once the dial ends: with err nil the connection
	// is registered on the loop and ready for Write; otherwise it failed
	// (refused, timed out, the server stopping) and o is finished. It is
	// not called for an Out closed with Out.Close before the dial ended.
	OnOutOpen(o *Out, err error)
	// OnOutData is called with the bytes received and not yet consumed,
	// oldest first; the rest are handed over again, followed by new bytes.
	// in is valid only during the call. Returning close closes o (without
	// a further OnOutClose).
	OnOutData(o *Out, in []byte) (consumed int, close bool)
	// OnOutClose is called once when o closes for any reason other than
	// Out.Close or a close asked by OnOutData: the peer closed or reset
	// it, or the server stopped.
	OnOutClose(o *Out)
}

// Out is an outbound TCP connection on the loop of the Conn that dialled
// it. Every method must be called on that loop's goroutine (from a
// callback of that loop), which is what lets a handler forward bytes
// between a client's Conn and an Out with no locks, goroutines or
// channels. Outs count in no limit of the Server (Config.MaxConns) and
// get no signal capture and no timeouts: the handler owns them.
type Out struct {
	ls  *loopState
	h   OutHandler
	gc  gnet.Conn
	ctx any

	open     bool // registered on the loop
	closed   bool // closed, or Close called while dialling
	inCB     bool // one of o's callbacks is running
	closeReq bool // Close was called during one of o's callbacks
	inWrite  bool // Write is running
}

// Dial connects to addr (a TCP host:port) within timeout and registers
// the connection on c's loop, where h receives its events; ctx is stored
// for the handler (Out.Context). Dial returns at once: the connection is
// made on a goroutine, and OnOutOpen reports the outcome on the loop. It
// must be called on c's loop goroutine.
func (c *Conn) Dial(addr string, timeout time.Duration, h OutHandler, ctx any) *Out {
	o := &Out{ls: c.ls, h: h, ctx: ctx}
	outDials.Inc()
	go o.dial(addr, timeout)
	return o
}

// dial makes the connection, then hands it to the loop (gnet duplicates
// the socket and registers the duplicate; engine.OnOpen finds o in the
// connection's context).
func (o *Out) dial(addr string, timeout time.Duration) {
	el := o.ls.el
	nc, err := net.DialTimeout("tcp", addr, timeout)
	if err == nil {
		if tc, ok := nc.(*net.TCPConn); ok {
			_ = tc.SetNoDelay(true)
		}
		var ch <-chan gnet.RegisteredResult
		ch, err = el.Enroll(gnet.NewContext(context.Background(), o), nc)
		if err == nil {
			if res := <-ch; res.Err == nil {
				return // engine.OnOpen has run on the loop
			} else {
				err = res.Err
			}
		} else {
			_ = nc.Close()
		}
	}
	outDialErrors.Inc()
	_ = el.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
		if !o.closed {
			o.closed = true
			o.h.OnOutOpen(o, err)
		}
		return nil
	}))
}

// Context returns the value given to Dial.
func (o *Out) Context() any { return o.ctx }

// Dialling reports whether the dial has not ended yet (and o was not
// closed meanwhile).
func (o *Out) Dialling() bool { return !o.open && !o.closed }

// Now returns the loop's coarse clock (UnixNano).
func (o *Out) Now() int64 { return o.ls.srv.clock.Load() }

// Open reports whether the connection is up: dialled, registered and not
// closed.
func (o *Out) Open() bool { return o.open && !o.closed }

// Write sends p, or queues what the socket does not take at once (gnet
// sends it when the socket drains). It returns ErrClosed when o is not
// open or the connection fails during the write; OnOutClose is then not
// called for that failure: the caller handles it.
func (o *Out) Write(p []byte) error {
	if !o.Open() {
		return ErrClosed
	}
	o.inWrite = true
	_, err := o.gc.Write(p)
	o.inWrite = false
	if err != nil || o.closed {
		o.closed = true
		return ErrClosed
	}
	return nil
}

// Close closes o; no OnOutClose follows. During one of o's own callbacks
// the close happens when the callback returns. Closing a closed Out does
// nothing; closing one still dialling drops the connection when it
// arrives.
func (o *Out) Close() {
	if o.closed {
		return
	}
	if o.inCB {
		o.closeReq = true
		return
	}
	o.closed = true
	if o.open {
		_ = o.ls.el.Close(o.gc)
	}
}

// openOut is engine.OnOpen for an Out's connection.
func (e *engine) openOut(o *Out, gc gnet.Conn) gnet.Action {
	outOpen.Add(1)
	if o.closed {
		return gnet.Close
	}
	o.gc, o.open = gc, true
	o.inCB = true
	o.h.OnOutOpen(o, nil)
	o.inCB = false
	if o.closeReq || o.closed {
		o.closed = true
		return gnet.Close
	}
	return gnet.None
}

// outTraffic is engine.OnTraffic for an Out.
func (e *engine) outTraffic(o *Out, gc gnet.Conn) gnet.Action {
	if o.closed {
		_, _ = gc.Discard(-1)
		return gnet.None
	}
	in, _ := gc.Peek(-1)
	o.inCB = true
	n, closeIt := o.h.OnOutData(o, in)
	o.inCB = false
	n = min(max(n, 0), len(in))
	if n > 0 {
		_, _ = gc.Discard(n)
	}
	if closeIt || o.closeReq {
		o.closed = true
		return gnet.Close
	}
	return gnet.None
}

// outClose is engine.OnClose for an Out.
func (e *engine) outClose(o *Out) {
	outOpen.Add(-1)
	if o.closed {
		return // closed by the handler, or failed in Write
	}
	o.closed = true
	if o.inWrite {
		return
	}
	o.inCB = true
	o.h.OnOutClose(o)
	o.inCB = false
}

// LoopTicker is implemented by a Handler that wants a call on each loop
// at every timeout sweep (an eighth of the shortest timeout, at most a
// second), to apply timeouts of its own (of held Conns and of Outs).
type LoopTicker interface {
	// OnLoopTick runs on the loop goroutine; local is the loop's
	// LoopLocal, now the coarse clock (UnixNano).
	OnLoopTick(local *any, now int64)
}

// LoopLocal returns a slot for the handler's state of c's loop (for
// example a pool of Outs): it is shared by the Conns of one loop and
// touched only on that loop's goroutine, so it needs no lock.
func (c *Conn) LoopLocal() *any { return &c.ls.local }

// LoopLocal returns the slot of o's loop (Conn.LoopLocal).
func (o *Out) LoopLocal() *any { return &o.ls.local }

// Now returns the loop's coarse clock (UnixNano), advanced at every sweep.
func (c *Conn) Now() int64 { return c.srv.clock.Load() }

// Hold exempts c from the loop's timeouts and from being closed by the
// drain while the handler waits for something other than the client (an
// upstream's answer); the handler applies its own deadline (LoopTicker).
// Bytes the client sends meanwhile stay pending. Call it on c's loop.
func (c *Conn) Hold() { c.held = true }

// Unhold ends Hold: c's timeouts count again from now. Call it on c's
// loop.
func (c *Conn) Unhold() {
	c.held = false
	now := c.srv.clock.Load()
	c.lastActive, c.since = now, now
}

// Flush sends what was written to c from outside c's own callbacks (from
// an Out's callback on c's loop); within them it does nothing, as the loop
// sends c's output when the callback returns. It fails with ErrClosed when
// c is closed, also when the write closes it (OnClose has then run, and c
// must not be used again), and with ErrBacklog when the client is
// MaxBacklog (or SetMaxBacklog's) bytes behind (c is then closed,
// likewise).
func (c *Conn) Flush() error {
	if c.inTraffic {
		return nil
	}
	if c.closed.Load() || c.state != stateOpen {
		c.out = c.out[:0]
		return ErrClosed
	}
	if len(c.out) == 0 {
		return nil
	}
	c.inTraffic = true
	_, _ = c.gc.Write(c.out)
	c.inTraffic = false
	c.out = c.out[:0]
	if c.closedInCall {
		c.srv.putConn(c)
		return ErrClosed
	}
	if c.gc.OutboundBuffered() > c.maxBacklog() {
		backlogCloses.Inc()
		c.CloseNow()
		return ErrBacklog
	}
	return nil
}

// CloseNow closes c at once, dropping unsent output; OnClose runs before
// it returns. Call it on c's loop, outside c's own callbacks (from them,
// return Close).
func (c *Conn) CloseNow() {
	if c.inTraffic || c.closed.Load() {
		return
	}
	c.inTraffic = true
	_ = c.ls.el.Close(c.gc)
	c.inTraffic = false
	if c.closedInCall {
		c.srv.putConn(c)
	}
}

// End sends what was written (Flush), then closes c as the Close action
// does. Call it on c's loop, outside c's own callbacks (from them, return
// Close). c must not be used after End.
func (c *Conn) End() {
	if c.inTraffic || c.Flush() != nil {
		return
	}
	if c.srv.linger(c) == gnet.Close {
		c.CloseNow()
	}
}

// Resume has the loop hand c's pending bytes to OnData again (soon, from
// the loop's queue) when some arrived while the handler was not taking
// them: OnData is otherwise called only when new bytes arrive. Call it on
// c's loop.
func (c *Conn) Resume() {
	if !c.closed.Load() && c.gc.InboundBuffered() > 0 {
		_ = c.gc.Wake(nil)
	}
}

// SetMaxBacklog bounds the bytes written to c that its client has not
// taken yet, in place of Config.MaxBacklog, for the rest of c's life: a
// proxy passing an answer through to a slow client sets the largest
// answer it accepts. n <= 0 restores the Server's bound.
func (c *Conn) SetMaxBacklog(n int) { c.backlog = max(n, 0) }

func (c *Conn) maxBacklog() int {
	if c.backlog > 0 {
		return c.backlog
	}
	return c.srv.cfg.MaxBacklog
}
