package http1

import (
	"errors"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/brink-edge/brink/loop"
)

// Outcome is how a forwarded request ended, as the Upstream records it.
type Outcome uint8

// The outcomes of a forwarded request.
const (
	OutcomeOK           Outcome = iota
	OutcomeTooLarge             // the request body is over ProxyConfig.MaxBodyBytes
	OutcomeBadGateway           // dial refused, connection reset or closed early, malformed answer
	OutcomeTimeout              // no complete answer within ProxyConfig.Timeout
	OutcomeClientClosed         // the client's connection ended before the answer did
)

// Upstream is what the proxy asks of the application (in brink, the
// relay): which requests go upstream, the upstream request head for each,
// the error answers, and where outcomes are recorded. Its methods run on
// the loop goroutines, and on ServeConn's goroutines, concurrently; they
// must not block.
type Upstream interface {
	// Match reports whether the request is forwarded.
	Match(ctx *fasthttp.RequestCtx) bool
	// AppendRequestHead appends the upstream request's line and header
	// fields, through the empty line, for the request in ctx, whose head as
	// received is raw and whose (buffered, de-chunked) body of bodyLen bytes
	// follows. The head must frame that body with Content-Length.
	AppendRequestHead(dst []byte, ctx *fasthttp.RequestCtx, raw []byte, bodyLen int) ([]byte, bool)
	// AppendErrorAnswer appends a whole answer for a failed outcome,
	// closing the connection when closeConn.
	AppendErrorAnswer(dst []byte, o Outcome, closeConn bool) []byte
	// Done records the outcome of one forwarded request.
	Done(o Outcome, err error)
	// Retried records a retry.
	Retried()
}

// ProxyConfig configures the forwarding of Config.Proxy.
type ProxyConfig struct {
	// Upstream decides and records; required.
	Upstream Upstream
	// Addr is the upstream's TCP address (host:port); required.
	Addr string
	// Timeout bounds a forwarded request from sending it (dialling
	// included) to the end of the answer. Zero means 30 s.
	Timeout time.Duration
	// IdleConnTimeout closes upstream connections idle that long. Zero
	// means 10 s.
	IdleConnTimeout time.Duration
	// MaxConnsPerLoop bounds the upstream connections of each loop; a
	// request that finds none free is answered 502. Zero means 512.
	MaxConnsPerLoop int
	// MaxBodyBytes bounds a forwarded request's body (413). Zero means the
	// Server's MaxBodyBytes.
	MaxBodyBytes int
	// MaxAnswerHeadBytes bounds the upstream answer's status line and
	// header fields (502 past it). Zero means 64 KiB.
	MaxAnswerHeadBytes int
	// MaxBacklog bounds what is buffered for a client that reads an
	// answer slower than the upstream sends it (loop.Conn.SetMaxBacklog):
	// the upstream is read at its own pace, so a slow client's answer is
	// held in memory up to this bound, past which the client's connection
	// is closed. Zero means 64 MiB (the relay's largest buffered answer).
	MaxBacklog int
}

var (
	errNoFreeConns   = errors.New("http1: no free upstream connection on this loop")
	errUpstreamEnded = errors.New("http1: the upstream closed the connection before the answer ended")
	errAnswerTimeout = errors.New("http1: the upstream did not answer in time")
	errStale408      = errors.New("http1: 408 on a kept-alive upstream connection: it timed out while idle")
)

// proxy forwards the requests Upstream matches to the upstream over
// keep-alive connections of the client's own loop (loop.Out): the request
// is written as bytes, and the answer is passed to the client as it
// arrives, its head rewritten and its body framed (RespFrame) but
// copied as is.
type proxy struct {
	s   *Server
	cfg ProxyConfig
	up  Upstream
}

// fwd is one connection's forwarded request in flight; it lives in the
// connection's state and is reused by its next forward.
type fwd struct {
	c           *loop.Conn
	st          *connState
	u           *upConn // the upstream connection carrying it, nil while none
	req         []byte  // the upstream request, head and body, kept for a retry
	deadline    int64   // UnixNano
	active      bool
	retryable   bool // idempotent, so it may be sent again after a connection error
	retried     bool
	head        bool // HEAD: the answer has no body
	closeClient bool // the client's connection ends with this answer
	sent        bool // bytes of the answer went to the client: no retry, no error answer
	prev, next  *fwd // the loop's list of forwards in flight
}

// upConn is one upstream connection of a loop's pool.
type upConn struct {
	o          *loop.Out
	f          *fwd // the request it carries, nil while idle
	rf         RespFrame
	headDone   bool
	reused     bool // it carried an answer before: a 408 on it is stale
	dead       bool // closed, or being closed: out of the pool's count
	idleSince  int64
	prev, next *upConn // the idle list
}

// loopPool is one loop's upstream connections and forwards in flight,
// kept in the loop's LoopLocal and touched only on that loop.
type loopPool struct {
	idle     *upConn // most recently used first
	open     int     // upstream connections, dialling included
	inflight *fwd
	scratch  []byte
}

func (p *proxy) pool(slot *any) *loopPool {
	lp, _ := (*slot).(*loopPool)
	if lp == nil {
		lp = &loopPool{scratch: make([]byte, 0, 1024)}
		*slot = lp
	}
	return lp
}

// wants reports whether the request in ctx is forwarded. HTTP/1.0
// requests are not: their answers cannot be chunked, so they take the
// handler's path.
func (p *proxy) wants(ctx *fasthttp.RequestCtx) bool {
	return ctx.Request.Header.IsHTTP11() && p.up.Match(ctx)
}

// start forwards the request in ctx (raw: its head as received). It runs
// in the client's OnData. It returns true when the request is in flight
// (the connection waits for the answer); false when it was answered
// at once (an error answer was written), closing the connection when
// close is true.
func (p *proxy) start(c *loop.Conn, st *connState, ctx *fasthttp.RequestCtx, raw []byte) (inFlight, close bool) {
	req := &ctx.Request
	f := st.fwd
	if f == nil {
		f = &fwd{req: make([]byte, 0, 1024)}
		st.fwd = f
	}
	closeClient := req.Header.ConnectionClose() || c.Draining()
	body := req.Body()
	if len(body) > p.cfg.MaxBodyBytes {
		_, _ = c.Write(p.up.AppendErrorAnswer(p.pool(c.LoopLocal()).scratch[:0], OutcomeTooLarge, closeClient))
		p.up.Done(OutcomeTooLarge, nil)
		return false, closeClient
	}
	var ok bool
	f.req, ok = p.up.AppendRequestHead(f.req[:0], ctx, raw, len(body))
	if !ok {
		// Match said yes a moment ago: a route cannot vanish in between.
		_, _ = c.Write(answer500)
		return false, true
	}
	f.req = append(f.req, body...)
	h := &req.Header
	*f = fwd{
		c: c, st: st, req: f.req, active: true,
		deadline:    time.Now().UnixNano() + int64(p.cfg.Timeout), // not the coarse clock: it lags up to a tick
		retryable:   h.IsGet() || h.IsHead() || h.IsOptions() || h.IsPut() || h.IsDelete(),
		head:        h.IsHead(),
		closeClient: closeClient,
	}
	lp := p.pool(c.LoopLocal())
	f.next = lp.inflight
	if lp.inflight != nil {
		lp.inflight.prev = f
	}
	lp.inflight = f
	c.Hold()
	c.SetMaxBacklog(p.cfg.MaxBacklog)
	if !p.send(f, lp) {
		// Answered at once: no connection to be had.
		p.end(f, lp)
		return false, f.closeClient
	}
	return true, false
}

// send puts f on an idle upstream connection, or dials one. It returns
// false when it could not, after writing the error answer (with c.Write:
// the caller flushes).
func (p *proxy) send(f *fwd, lp *loopPool) bool {
	now := f.c.Now() // coarse, as idleSince
	for u := lp.idle; u != nil; u = lp.idle {
		p.unidle(u, lp)
		if now-u.idleSince > int64(p.cfg.IdleConnTimeout) || !u.o.Open() {
			p.drop(u, lp)
			continue
		}
		p.bind(u, f)
		if u.o.Write(f.req) == nil {
			return true
		}
		u.f, f.u = nil, nil
		p.drop(u, lp) // the write failed: gone already
	}
	if lp.open >= p.cfg.MaxConnsPerLoop {
		p.answerError(f, OutcomeBadGateway, errNoFreeConns)
		return false
	}
	u := &upConn{}
	lp.open++
	p.bind(u, f)
	timeout := time.Duration(f.deadline - time.Now().UnixNano())
	u.o = f.c.Dial(p.cfg.Addr, max(timeout, time.Millisecond), p, u)
	return true
}

func (p *proxy) bind(u *upConn, f *fwd) {
	u.f, f.u = f, u
	u.headDone = false
	u.rf.Reset(f.head)
}

// OnOutOpen sends the waiting request on a new upstream connection.
func (p *proxy) OnOutOpen(o *loop.Out, err error) {
	u := o.Context().(*upConn)
	lp := p.pool(o.LoopLocal())
	f := u.f
	if err != nil {
		u.dead = true
		lp.open--
		if f != nil {
			u.f, f.u = nil, nil
			p.failAsync(f, lp, outcomeOf(err), err)
		}
		return
	}
	if f == nil {
		// The client left while dialling: keep the connection.
		p.release(u, lp)
		return
	}
	if o.Write(f.req) != nil {
		p.lost(u, lp)
	}
}

func outcomeOf(err error) Outcome {
	var te interface{ Timeout() bool }
	if errors.As(err, &te) && te.Timeout() {
		return OutcomeTimeout
	}
	return OutcomeBadGateway
}

// OnOutData passes the answer to the client as it arrives.
func (p *proxy) OnOutData(o *loop.Out, in []byte) (int, bool) {
	u := o.Context().(*upConn)
	lp := p.pool(o.LoopLocal())
	f := u.f
	if f == nil {
		// Bytes on an idle connection: nothing may come there.
		p.unidle(u, lp)
		p.drop(u, lp)
		return len(in), true
	}
	c := f.c
	n := 0
	for !u.headDone {
		m, err := u.rf.ParseHead(in[n:], p.cfg.MaxAnswerHeadBytes)
		if err != nil {
			p.drop(u, lp)
			p.failAsync(f, lp, OutcomeBadGateway, err)
			return len(in), true
		}
		if m == 0 {
			return n, false
		}
		if u.rf.Interim {
			n += m
			u.rf.Reset(f.head)
			continue
		}
		if u.rf.Status == 408 && u.reused {
			// Not an answer: the upstream timed the kept-alive connection
			// out while it was idle (as Go's transport reads it). Retried
			// as a lost connection.
			p.lost(u, lp)
			return len(in), true
		}
		f.closeClient = f.closeClient || c.Draining()
		lp.scratch = u.rf.AppendClientHead(lp.scratch[:0], in[n:n+m], f.closeClient)
		_, _ = c.Write(lp.scratch)
		u.headDone, f.sent = true, true
		n += m
	}
	m, done, err := u.rf.Body(in[n:])
	if m > 0 {
		_, _ = c.Write(in[n : n+m])
		n += m
	}
	if err != nil {
		// The answer is broken half-way: the client cannot be told.
		p.drop(u, lp)
		p.abort(f, lp, OutcomeBadGateway, err)
		return len(in), true
	}
	if !done {
		if c.Flush() != nil {
			// The client is gone or closing: OnClose dropped u, or (a
			// closing connection, whose OnClose comes later) we do. Once
			// OnClose ran, f is back in the pool with its connection's
			// state, maybe taken by another loop: only u (this loop's)
			// says which.
			if u.f == f {
				p.clientClosed(f, o.LoopLocal())
			}
			return len(in), true
		}
		return n, false
	}
	reuse := u.rf.KeepAlive && n == len(in)
	if n < len(in) {
		p.s.cfg.Logger.Debug("relay: the upstream sent bytes after its answer", "bytes", len(in)-n)
	}
	u.f, f.u = nil, nil
	if reuse {
		p.release(u, lp)
	} else {
		p.drop(u, lp)
	}
	p.complete(f, lp, OutcomeOK, nil)
	if !reuse {
		return len(in), true
	}
	return n, false
}

// OnOutClose handles an upstream connection that closed under a request
// (or while idle).
func (p *proxy) OnOutClose(o *loop.Out) {
	u := o.Context().(*upConn)
	lp := p.pool(o.LoopLocal())
	if u.f == nil {
		p.unidle(u, lp)
		p.drop(u, lp)
		return
	}
	f := u.f
	if u.headDone && u.rf.Framing == FramingClose {
		// The end of a close-delimited answer: the client's connection
		// ends too, as the answer carried Connection: close.
		u.f, f.u = nil, nil
		p.drop(u, lp)
		f.closeClient = true
		p.complete(f, lp, OutcomeOK, nil)
		return
	}
	p.lost(u, lp)
}

// lost handles u failing under its request: a request with no answer
// byte sent yet is retried once when idempotent, else answered 502; one
// answered half-way ends the client's connection.
func (p *proxy) lost(u *upConn, lp *loopPool) {
	f := u.f
	u.f, f.u = nil, nil
	p.drop(u, lp)
	switch {
	case f.sent:
		p.abort(f, lp, OutcomeBadGateway, errUpstreamEnded)
	case f.retryable && !f.retried && f.c.Now() < f.deadline && !f.c.Stopping():
		// (Past the drain the loop is closing every connection: no new
		// dial then.)
		f.retried = true
		p.up.Retried()
		if !p.send(f, lp) {
			p.finishAsync(f, lp)
		}
	default:
		p.failAsync(f, lp, OutcomeBadGateway, errUpstreamEnded)
	}
}

// answerError writes f's error answer (c.Write) and records it.
func (p *proxy) answerError(f *fwd, o Outcome, err error) {
	lp := p.pool(f.c.LoopLocal())
	f.closeClient = f.closeClient || f.c.Draining()
	_, _ = f.c.Write(p.up.AppendErrorAnswer(lp.scratch[:0], o, f.closeClient))
	p.up.Done(o, err)
}

// failAsync answers f with an error outside the client's callbacks.
func (p *proxy) failAsync(f *fwd, lp *loopPool, o Outcome, err error) {
	p.answerError(f, o, err)
	p.finishAsync(f, lp)
}

// complete ends f after its whole answer was written (c.Write).
func (p *proxy) complete(f *fwd, lp *loopPool, o Outcome, err error) {
	p.up.Done(o, err)
	p.finishAsync(f, lp)
}

// finishAsync sends what was written for f and lets the client's
// connection go on: its next pipelined request, or its end.
func (p *proxy) finishAsync(f *fwd, lp *loopPool) {
	p.end(f, lp)
	c := f.c
	if f.closeClient {
		c.End()
		return
	}
	if c.Flush() == nil {
		c.Resume()
	}
}

// abort ends f's client connection at once: its answer cannot be
// completed.
func (p *proxy) abort(f *fwd, lp *loopPool, o Outcome, err error) {
	p.up.Done(o, err)
	p.end(f, lp)
	f.c.CloseNow()
}

// end takes f off the loop's list: its connection is the loop's again.
func (p *proxy) end(f *fwd, lp *loopPool) {
	p.unlink(f, lp)
	f.active = false
	f.c.Unhold()
}

func (p *proxy) unlink(f *fwd, lp *loopPool) {
	if f.prev != nil {
		f.prev.next = f.next
	} else if lp.inflight == f {
		lp.inflight = f.next
	}
	if f.next != nil {
		f.next.prev = f.prev
	}
	f.prev, f.next = nil, nil
}

// release puts u back in the idle list.
func (p *proxy) release(u *upConn, lp *loopPool) {
	if u.dead {
		return
	}
	u.reused = true
	u.idleSince = u.o.Now()
	u.prev, u.next = nil, lp.idle
	if lp.idle != nil {
		lp.idle.prev = u
	}
	lp.idle = u
}

func (p *proxy) unidle(u *upConn, lp *loopPool) {
	if u.prev != nil {
		u.prev.next = u.next
	} else if lp.idle == u {
		lp.idle = u.next
	}
	if u.next != nil {
		u.next.prev = u.prev
	}
	u.prev, u.next = nil, nil
}

// drop closes u (if open) and takes it out of the count. From u's own
// callback the loop closes it when the callback returns.
func (p *proxy) drop(u *upConn, lp *loopPool) {
	if u.dead {
		return
	}
	u.dead = true
	lp.open--
	u.o.Close()
}

// clientClosed is called from OnClose while f is in flight: its
// upstream connection, answer half-read, cannot be reused.
func (p *proxy) clientClosed(f *fwd, slot *any) {
	p.up.Done(OutcomeClientClosed, nil)
	lp := p.pool(slot)
	if u := f.u; u != nil {
		u.f, f.u = nil, nil
		if !u.o.Dialling() {
			p.drop(u, lp)
		} // else the connection joins the pool when it comes
	}
	p.end(f, lp) // a closing connection's linger applies again
}

// tick applies the forwards' deadlines and closes idle upstream
// connections past IdleConnTimeout.
func (p *proxy) tick(slot *any, now int64) {
	lp, _ := (*slot).(*loopPool)
	if lp == nil {
		return
	}
	for f, next := lp.inflight, (*fwd)(nil); f != nil; f = next {
		next = f.next
		if now <= f.deadline {
			continue
		}
		if u := f.u; u != nil {
			u.f, f.u = nil, nil
			p.drop(u, lp)
		}
		if f.sent {
			p.abort(f, lp, OutcomeTimeout, errAnswerTimeout)
			continue
		}
		p.failAsync(f, lp, OutcomeTimeout, errAnswerTimeout)
	}
	idle := int64(p.cfg.IdleConnTimeout)
	for u, next := lp.idle, (*upConn)(nil); u != nil; u = next {
		next = u.next
		if now-u.idleSince > idle {
			p.unidle(u, lp)
			p.drop(u, lp)
		}
	}
}
