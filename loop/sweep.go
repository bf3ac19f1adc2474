package loop

import (
	"context"

	"github.com/panjf2000/gnet/v2"
)

// loopState is one event loop's list of connections, for the timeout
// sweep. It is touched only on that loop's goroutine.
type loopState struct {
	srv  *Server
	el   gnet.EventLoop
	head *Conn
	// local is the handler's per-loop slot (Conn.LoopLocal).
	local any
}

func (ls *loopState) add(c *Conn) {
	c.prev, c.next = nil, ls.head
	if ls.head != nil {
		ls.head.prev = c
	}
	ls.head = c
}

func (ls *loopState) remove(c *Conn) {
	if c.prev != nil {
		c.prev.next = c.next
	} else if ls.head == c {
		ls.head = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	}
	c.prev, c.next = nil, nil
}

// Run sweeps the loop's connections; the ticker runs it inside the loop
// through gnet's EventLoop.Execute.
func (ls *loopState) Run(context.Context) error {
	s := ls.srv
	now := s.clock.Load()
	drain := s.draining.Load()
	readHeader, idle := int64(s.cfg.ReadHeaderTimeout), int64(s.cfg.IdleTimeout)
	for c, next := ls.head, (*Conn)(nil); c != nil; c = next {
		next = c.next
		if c.held {
			continue
		}
		switch c.state {
		case stateDetached:
		case stateLinger:
			if !c.shutWR && c.gc.OutboundBuffered() == 0 {
				c.shutWR = true
				shutdownWrite(c.gc.Fd())
			}
			// Draining, a connection whose answer and FIN are sent is not
			// waited for any longer.
			if now > c.deadline || (drain && c.shutWR) {
				_ = ls.el.Close(c.gc)
			}
		default:
			switch {
			case c.partial || c.fresh:
				if now-c.since > readHeader {
					timeoutReadHeader.Inc()
					_ = ls.el.Close(c.gc)
				} else if drain && c.fresh && c.gc.InboundBuffered() == 0 {
					// Accepted just before the drain, nothing sent yet.
					_ = ls.el.Close(c.gc)
				}
			case drain:
				if c.gc.OutboundBuffered() == 0 {
					_ = ls.el.Close(c.gc)
				}
			case now-c.lastActive > idle:
				timeoutIdle.Inc()
				_ = ls.el.Close(c.gc)
			}
		}
	}
	if t, ok := s.h.(LoopTicker); ok {
		t.OnLoopTick(&ls.local, now)
	}
	return nil
}
