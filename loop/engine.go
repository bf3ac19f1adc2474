package loop

import (
	"context"
	"sync"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/brink-edge/brink/connsig"
)

// engine is one gnet engine: the only one, with a single listener feeding
// every loop, or with ReusePort one per loop, each with its own listener.
type engine struct {
	gnet.BuiltinEventEngine
	srv     *Server
	eng     gnet.Engine
	booted  func()
	bootErr error
	// lnDup is our duplicate of the listening socket, -1 once closed.
	lnDup     int
	closeOnce sync.Once
	up        bool
}

// run starts the engine and blocks until it stops.
func (e *engine) run(i int) error {
	s := e.srv
	loops := s.cfg.Loops
	if s.cfg.ReusePort {
		loops = 1
	}
	err := gnet.Run(e, "tcp://"+s.addr,
		gnet.WithNumEventLoop(loops),
		gnet.WithReusePort(s.cfg.ReusePort),
		// SO_REUSEADDR, as net.Listen sets it: without it a restart fails to
		// bind while the previous run's connections sit in TIME_WAIT.
		gnet.WithReuseAddr(true),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithLoadBalancing(gnet.RoundRobin),
		gnet.WithLogger(gnetLogger{s.cfg.Logger, i}),
	)
	if !e.up {
		// gnet.Run failed before OnBoot (binding the address).
		if err == nil {
			err = errBoot
		}
		e.bootErr = err
		e.up = true
		e.booted()
	}
	return err
}

// OnBoot runs before the loops start: it prepares the listener.
func (e *engine) OnBoot(eng gnet.Engine) gnet.Action {
	e.eng = eng
	e.up = true
	defer e.booted()
	fd, err := eng.Dup()
	if err != nil {
		e.bootErr = err
		return gnet.Shutdown
	}
	e.lnDup = fd
	if p := e.srv.cfg.PrepareListener; p != nil {
		if err := p(fd); err != nil {
			e.bootErr = err
			return gnet.Shutdown
		}
	}
	return gnet.None
}

// closeListener stops new connections: see stopListening.
func (e *engine) closeListener() {
	e.closeOnce.Do(func() {
		if e.lnDup >= 0 {
			if err := stopListening(e.lnDup); err != nil {
				e.srv.cfg.Logger.Warn("loop: cannot close the listener, rejecting new connections instead", "err", err)
			}
			e.lnDup = -1
		}
	})
}

// stop stops the engine, closing its remaining connections.
func (e *engine) stop() {
	e.closeListener()
	if e.bootErr != nil || e.eng == (gnet.Engine{}) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = e.eng.Stop(ctx)
}

// OnOpen admits a connection, captures its signal and opens it for the
// handler.
func (e *engine) OnOpen(gc gnet.Conn) ([]byte, gnet.Action) {
	if o, ok := gc.Context().(*Out); ok {
		return nil, e.openOut(o, gc)
	}
	s := e.srv
	if s.draining.Load() {
		rejectedShutdown.Inc()
		return nil, gnet.Close
	}
	if n := s.conns.Add(1); s.cfg.MaxConns > 0 && n > int64(s.cfg.MaxConns) {
		s.conns.Add(-1)
		rejectedMaxConns.Inc()
		return nil, gnet.Close
	}
	openConns.Add(1)
	accepted.Inc()
	c := s.getConn()
	c.gc = gc
	c.sig.Reset()
	if cp := s.cfg.Capturer; cp != nil {
		if err := connsig.CaptureConn(cp, gc.Fd(), gc.LocalAddr(), gc.RemoteAddr(), &c.sig); err != nil {
			captureErrors.Inc()
		}
	}
	now := s.clock.Load()
	c.since, c.lastActive, c.fresh = now, now, true
	c.ls = s.loopFor(gc.EventLoop())
	c.ls.add(c)
	gc.SetContext(c)
	c.inTraffic = true
	s.h.OnOpen(c)
	c.inTraffic = false
	return e.finish(c, Continue)
}

// OnTraffic hands the pending bytes to the handler and sends its output.
func (e *engine) OnTraffic(gc gnet.Conn) gnet.Action {
	c, _ := gc.Context().(*Conn)
	if c == nil {
		if o, ok := gc.Context().(*Out); ok {
			return e.outTraffic(o, gc)
		}
		return gnet.Close
	}
	if c.state != stateOpen {
		_, _ = gc.Discard(-1)
		return gnet.None
	}
	in, _ := gc.Peek(-1)
	c.inTraffic = true
	n, act := e.srv.h.OnData(c, in)
	c.inTraffic = false
	n = min(max(n, 0), len(in))
	if n > 0 {
		_, _ = gc.Discard(n)
	}
	now := e.srv.clock.Load()
	c.lastActive = now
	if n < len(in) {
		if !c.partial {
			c.partial, c.since = true, now
		}
	} else {
		c.partial = false
	}
	c.fresh = false
	_, a := e.finish(c, act)
	return a
}

// finish sends c's output and applies act after a handler callback.
func (e *engine) finish(c *Conn, act Action) ([]byte, gnet.Action) {
	gc := c.gc
	if c.handoff {
		// The handler owns a duplicate of the socket: gnet closes its fd
		// without shutdown(2), so the connection stays up, then OnClose
		// recycles c.
		c.out = c.out[:0]
		_, _ = gc.Discard(-1)
		return nil, gnet.Close
	}
	if len(c.out) > 0 {
		c.inTraffic = true
		_, _ = gc.Write(c.out)
		c.inTraffic = false
		c.out = c.out[:0]
	}
	if c.closedInCall {
		// The write failed and gnet closed the connection under us.
		e.srv.putConn(c)
		return nil, gnet.None
	}
	if act == Close {
		return nil, e.srv.linger(c)
	}
	if c.detach {
		c.state = stateDetached
		_, _ = gc.Discard(-1)
		return nil, gnet.None
	}
	if gc.OutboundBuffered() > c.maxBacklog() {
		backlogCloses.Inc()
		return nil, gnet.Close
	}
	return nil, gnet.None
}

// linger starts closing c. When the answer is sent and the client has
// nothing more in flight to us (no byte left unread, in gnet's buffer or
// the socket's), c is closed at once: close(2) then sends a FIN, not a
// reset, and the client that asked to close (the usual case: Connection:
// close) is not waited for. That saves a shutdown(2), a wake-up and a read
// per connection; nginx closes the same way when no data is pending.
// Otherwise FIN once the output is sent, then the sweep closes c when the
// client has closed or lingerTime passed.
func (s *Server) linger(c *Conn) gnet.Action {
	pending := c.gc.InboundBuffered()
	_, _ = c.gc.Discard(-1)
	if pending == 0 && c.gc.OutboundBuffered() == 0 && unreadBytes(c.gc.Fd()) == 0 {
		lingerSkipped.Inc()
		return gnet.Close
	}
	lingered.Inc()
	c.state = stateLinger
	c.deadline = s.clock.Load() + int64(lingerTime)
	if c.gc.OutboundBuffered() == 0 {
		c.shutWR = true
		shutdownWrite(c.gc.Fd())
	}
	return gnet.None
}

// OnClose tells the handler and recycles the Conn.
func (e *engine) OnClose(gc gnet.Conn, _ error) gnet.Action {
	c, _ := gc.Context().(*Conn)
	if c == nil {
		if o, ok := gc.Context().(*Out); ok {
			gc.SetContext(nil)
			e.outClose(o)
		}
		return gnet.None
	}
	gc.SetContext(nil)
	s := e.srv
	c.closed.Store(true)
	c.ls.remove(c)
	s.conns.Add(-1)
	openConns.Add(-1)
	s.h.OnClose(c)
	if c.inTraffic {
		c.closedInCall = true
		return gnet.None
	}
	s.putConn(c)
	return gnet.None
}
