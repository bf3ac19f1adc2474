package http1

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// Timeouts of ServeConn, those of tlsterm.HTTPService's fasthttp.Server.
const (
	// ServeConnReadTimeout bounds reading a request's head and body, from
	// its first byte.
	ServeConnReadTimeout = 15 * time.Second
	// ServeConnIdleTimeout bounds the wait for a request.
	ServeConnIdleTimeout = 90 * time.Second

	// serveConnFlushTimeout bounds writing the end of a forwarded answer
	// (what c.bw holds) once the upstream's part is done.
	serveConnFlushTimeout = 15 * time.Second
	// serveConnHotWait is how long a kept-alive connection keeps its
	// buffers waiting for its next request, before it gives them back for
	// the rest of ServeConnIdleTimeout: a busy client's requests follow
	// each other faster (and pay nothing for the release), an SDK polling
	// every few seconds holds none between polls.
	serveConnHotWait = 250 * time.Millisecond
)

// httpStater is implemented by a connection whose server wants to know
// its HTTP state (tlsterm.Conn: its Shutdown closes the connections that
// wait for a request at once, and lets the others finish their answer).
type httpStater interface {
	// HTTPNew: served, no request read yet.
	HTTPNew()
	// HTTPActive: a request is being read or answered.
	HTTPActive()
	// HTTPIdle: waiting for the next request; true when the server is
	// draining and the connection must be closed now.
	HTTPIdle() (closeNow bool)
}

// drainer is implemented by a connection that knows its server is
// shutting down (tlsterm.Conn, loop.Conn's adapter): the answer in
// progress is the last.
type drainer interface{ Draining() bool }

// serveConns is what a Server's ServeConn calls share: the upstream pool
// and the pooled per-connection state.
type serveConns struct {
	pool  *connPool // nil without Config.Proxy
	conns sync.Pool // *blockingConn
}

func (s *Server) serveConns() *serveConns { return s.sc }

// SetUpstreamTLS makes ServeConn's upstream connections TLS with cfg (an
// https upstream; cfg.ServerName defaults to ProxyConfig.Addr's host).
// Call it before serving; nil goes back to plain TCP. The loop's proxy
// (OnData) is not affected: it speaks plain TCP only.
func (s *Server) SetUpstreamTLS(cfg *tls.Config) {
	if p := s.serveConns().pool; p != nil {
		p.tls.Store(cfg)
	}
}

// CloseIdleUpstreams closes ServeConn's idle upstream connections, as at
// shutdown; connections carrying a request are closed when it ends.
func (s *Server) CloseIdleUpstreams() {
	if p := s.serveConns().pool; p != nil {
		p.closeIdle()
	}
}

// blockingConn is what serving requests on a connection takes, pooled
// and held only while a request is read or answered (an idle
// connection's goroutine keeps only its connInput): the client's buffered
// reader and writer, the RequestCtx, and the scratch buffers of
// forwarding.
type blockingConn struct {
	s     *Server
	sc    *serveConns
	nc    net.Conn
	in    *connInput
	br    *bufio.Reader
	bw    *bufio.Writer
	ctx   fasthttp.RequestCtx
	uri   fasthttp.URI // parseURI's
	raw   []byte       // the request's head as received
	req   []byte       // the upstream request: head and body
	out   []byte       // an answer head for the client, or an error answer
	drain drainer
}

// connInput is the reader under a connection's bufio.Reader, kept by
// ServeConn for the connection's life: it gives back first the byte that
// ended an idle wait (read without buffers), then reads the connection.
// It also remembers whether a write deadline is set on the connection.
type connInput struct {
	nc      net.Conn
	b       [1]byte
	pending bool
	wdl     bool // a write deadline is set on nc
}

func (in *connInput) Read(p []byte) (int, error) {
	if in.pending && len(p) > 0 {
		in.pending = false
		p[0] = in.b[0]
		return 1, nil
	}
	return in.nc.Read(p)
}

// ServeConn serves HTTP/1.1 requests read from nc (in brink, a terminated
// TLS connection) on the calling goroutine until the client closes, a
// timeout, an error, or a Connection: close, and closes nc. Requests
// Config.Proxy's Upstream matches are forwarded as bytes over a pool of
// upstream connections shared by all ServeConn calls of s (to
// ProxyConfig.Addr, over TLS once SetUpstreamTLS was called), with the
// loop's semantics (see proxy.go): the request head rebuilt by the
// Upstream, the answer framed by RespFrame and copied as it arrives, an
// idempotent request retried once on a lost connection, 502 and 504 from
// Upstream.AppendErrorAnswer, outcomes to Upstream.Done. A slow client
// slows the upstream's reading instead of being buffered for (the
// answer's Timeout covers both). The other requests go to Config.Handler,
// answered as on the loop, except that a streamed answer is written on
// this goroutine (it still ends the connection) and Config.Offload and
// Config.OnOpen are not used (the caller's goroutine may block; the caller
// ships the connection's signal). The Upstream's methods run on the
// ServeConn goroutines, concurrently.
//
// The first request has ServeConnReadTimeout to arrive whole (as with
// fasthttp.Server); a kept-alive connection then waits up to
// ServeConnIdleTimeout for a request to start, which has
// ServeConnReadTimeout from there. Past the first 250 ms of such a wait
// it holds no buffers: they go back to a pool, and the next request's
// first byte is read on its own.
// Pipelined answers go out in one write. When nc has Draining
// (tlsterm.Conn) the answer given while it reports true closes the
// connection, and when nc reports its HTTP state (tlsterm.Conn's HTTPNew,
// HTTPActive, HTTPIdle), a draining server closes it while it waits for a
// request.
//
// A forwarded request (head and answer of a few KiB) allocates nothing once
// the pools are warm. Handlers see ctx.Conn() == nc (so connsig.Carrier
// and ctx.IsTLS work on a tlsterm.Conn).
func (s *Server) ServeConn(nc net.Conn) error {
	err := s.serveConn(nc)
	_ = nc.Close()
	if err != nil && (errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed)) {
		err = nil
	}
	return err
}

func (s *Server) serveConn(nc net.Conn) error {
	sc := s.serveConns()
	st, _ := nc.(httpStater)
	if st != nil {
		st.HTTPNew()
	}
	if err := nc.SetReadDeadline(time.Now().Add(ServeConnReadTimeout)); err != nil {
		return err
	}
	in := &connInput{nc: nc}
	c := sc.get(s, nc, in)
	for {
		idle, err := c.serve(st)
		if !idle || err != nil {
			c.release()
			return err
		}
		if st != nil && st.HTTPIdle() {
			c.release()
			return nil
		}
		// A busy client's next request comes soon: wait a moment for it
		// with the buffers,
		if err := nc.SetReadDeadline(time.Now().Add(serveConnHotWait)); err != nil {
			c.release()
			return err
		}
		_, err = c.br.Peek(1)
		if err == nil {
			if err := nc.SetReadDeadline(time.Now().Add(ServeConnReadTimeout)); err != nil {
				c.release()
				return err
			}
			continue
		}
		c.release()
		if !isTimeout(err) {
			return err
		}
		// then without them.
		if err := nc.SetReadDeadline(time.Now().Add(ServeConnIdleTimeout - serveConnHotWait)); err != nil {
			return err
		}
		if _, err := io.ReadFull(nc, in.b[:]); err != nil {
			if isTimeout(err) {
				return nil // an idle connection's end, not an error
			}
			return err
		}
		in.pending = true
		if err := nc.SetReadDeadline(time.Now().Add(ServeConnReadTimeout)); err != nil {
			return err
		}
		c = sc.get(s, nc, in)
	}
}

func isTimeout(err error) bool {
	ne, ok := errors.AsType[net.Error](err)
	return ok && ne.Timeout()
}

// get returns pooled state for serving nc.
func (sc *serveConns) get(s *Server, nc net.Conn, in *connInput) *blockingConn {
	c, _ := sc.conns.Get().(*blockingConn)
	if c == nil {
		c = &blockingConn{
			s: s, sc: sc,
			br:  bufio.NewReaderSize(nil, s.cfg.MaxHeaderBytes),
			bw:  bufio.NewWriterSize(nil, 8<<10),
			raw: make([]byte, 0, 1024),
			req: make([]byte, 0, 1024),
			out: make([]byte, 0, 1024),
		}
	}
	c.nc, c.in = nc, in
	c.br.Reset(in)
	c.bw.Reset(nc)
	c.drain, _ = nc.(drainer)
	c.ctx.Init2(nc, s.logger, false)
	return c
}

// release returns c to the pool; nothing of the connection is kept.
func (c *blockingConn) release() {
	ctx := &c.ctx
	ctx.Request.Reset()
	ctx.Response.Reset()
	ctx.ResetUserValues()
	ctx.Hijack(nil)
	ctx.Init2(nil, nil, false)
	c.nc, c.in, c.drain = nil, nil, nil
	c.br.Reset(nil)
	c.bw.Reset(nil)
	// The pool holds about as many as requests are served at once, not
	// connections: buffers a forward grew are kept (c.out takes a head
	// and an upstream read, up to MaxAnswerHeadBytes and 64 KiB by
	// default), except for an outsized body.
	if cap(c.req) > 256<<10 {
		c.req = make([]byte, 0, 1024)
	}
	if cap(c.out) > 256<<10 {
		c.out = make([]byte, 0, 1024)
	}
	c.sc.conns.Put(c)
}

func (c *blockingConn) draining() bool { return c.drain != nil && c.drain.Draining() }

// serve reads and answers requests until the connection is idle (idle:
// no request byte buffered, the answers flushed) or ends (idle false).
func (c *blockingConn) serve(st httpStater) (idle bool, err error) {
	for {
		if _, err := c.br.Peek(1); err != nil {
			return false, err
		}
		if st != nil {
			st.HTTPActive()
		}
		closing, err := c.serveOne()
		if err != nil {
			return false, err
		}
		if closing {
			return false, c.bw.Flush()
		}
		if c.br.Buffered() == 0 {
			return true, c.bw.Flush()
		}
		// A pipelined request: its read time starts now.
		if err := c.nc.SetReadDeadline(time.Now().Add(ServeConnReadTimeout)); err != nil {
			return false, err
		}
	}
}

// serveOne reads one request, whose first byte is buffered, and answers
// it (into c.bw, flushed by the caller). closing reports that the
// connection ends after the answer; an error, that it ends at once.
func (c *blockingConn) serveOne() (closing bool, err error) {
	s, br := c.s, c.br
	var b []byte
	hend := -1
	for {
		b, _ = br.Peek(br.Buffered())
		if hend = headerEnd(b); hend >= 0 {
			break
		}
		if len(b) >= s.cfg.MaxHeaderBytes {
			return c.fail(answer431)
		}
		if _, err := br.Peek(len(b) + 1); err != nil {
			return true, err
		}
	}
	c.raw = append(c.raw[:0], b[:hend]...)
	ctx := &c.ctx
	req := &ctx.Request
	req.Reset()
	if err := req.Header.Read(br); err != nil {
		if _, small := errors.AsType[*fasthttp.ErrSmallBuffer](err); small {
			return c.fail(answer431)
		}
		return c.fail(answer400)
	}
	cl := req.Header.ContentLength()
	if cl > s.cfg.MaxBodyBytes {
		return c.fail(answer413)
	}
	if (cl > 0 || cl == -1) && br.Buffered() == 0 && req.MayContinue() {
		// The client waits for a go-ahead before sending the body.
		if _, err := c.bw.Write(answer100); err != nil {
			return true, err
		}
		if err := c.bw.Flush(); err != nil {
			return true, err
		}
	}
	if err := req.ContinueReadBody(br, s.cfg.MaxBodyBytes, false); err != nil {
		if errors.Is(err, fasthttp.ErrBodyTooLarge) {
			return c.fail(answer413)
		}
		if _, ok := errors.AsType[net.Error](err); ok || truncated(err) {
			return true, err // the client left or stalled: no one to answer
		}
		return c.fail(answer400)
	}
	if !parseURI(ctx, &c.uri) {
		return c.fail(answer400)
	}
	if s.proxy != nil && s.proxy.wants(ctx) {
		return c.forward()
	}
	return c.answer()
}

// fail writes a canned answer that closes the connection.
func (c *blockingConn) fail(answer []byte) (bool, error) {
	_, err := c.bw.Write(answer)
	return true, err
}

// answer runs the handler and writes its answer, as Server.answer does
// on the loop.
func (c *blockingConn) answer() (closing bool, err error) {
	ctx := &c.ctx
	resp := &ctx.Response
	resp.Reset()
	ctx.ResetUserValues()
	if c.s.handle(ctx) {
		return c.fail(answer500)
	}
	closing = frameAnswer(ctx, c.draining())
	if c.in.wdl {
		// A forwarded answer's deadline does not apply.
		c.in.wdl = false
		if err := c.nc.SetWriteDeadline(time.Time{}); err != nil {
			return true, err
		}
	}
	if err := resp.Write(c.bw); err != nil {
		return true, err
	}
	return closing, nil
}

// forward sends the request in c.ctx upstream and copies the answer to
// the client, with the loop proxy's rules (proxy.go): an idempotent
// request whose connection failed before any answer byte reached the
// client is sent once more, a failure before that is answered with the
// Upstream's error answer, one after it ends the client's connection.
func (c *blockingConn) forward() (closing bool, err error) {
	p := c.s.proxy
	ctx := &c.ctx
	req := &ctx.Request
	closing = req.Header.ConnectionClose() || c.draining()
	body := req.Body()
	if len(body) > p.cfg.MaxBodyBytes {
		p.up.Done(OutcomeTooLarge, nil)
		return c.errorAnswer(OutcomeTooLarge, closing)
	}
	var ok bool
	c.req, ok = p.up.AppendRequestHead(c.req[:0], ctx, c.raw, len(body))
	if !ok {
		// Match said yes a moment ago: a route cannot vanish in between.
		return c.fail(answer500)
	}
	c.req = append(c.req, body...)
	h := &req.Header
	retryable := h.IsGet() || h.IsHead() || h.IsOptions() || h.IsPut() || h.IsDelete()
	head := h.IsHead()
	deadline := time.Now().Add(p.cfg.Timeout)
	if err := c.nc.SetWriteDeadline(deadline); err != nil {
		return true, err
	}
	c.in.wdl = true
	defer c.afterForward()
	pool := c.sc.pool
	for retried := false; ; retried = true {
		u, err := pool.get(deadline)
		if err != nil {
			o := outcomeOf(err)
			p.up.Done(o, err)
			return c.errorAnswer(o, closing)
		}
		sent, err := c.exchange(u, head, deadline, &closing)
		if err == nil {
			if u.rf.KeepAlive && u.br.Buffered() == 0 {
				pool.put(u)
			} else {
				if u.br.Buffered() > 0 {
					c.s.cfg.Logger.Debug("relay: the upstream sent bytes after its answer", "bytes", u.br.Buffered())
				}
				pool.drop(u)
			}
			p.up.Done(OutcomeOK, nil)
			return closing, nil
		}
		pool.drop(u)
		var ce clientError
		switch {
		case errors.As(err, &ce):
			// The client left (or stopped reading): its connection ends,
			// as on the loop.
			p.up.Done(OutcomeClientClosed, nil)
			return true, ce.err
		case sent:
			// The answer is broken half-way: the client cannot be told.
			o := outcomeOf(err)
			switch {
			case o == OutcomeTimeout:
				err = errAnswerTimeout
			case errors.Is(err, io.EOF):
				err = errUpstreamEnded
			}
			p.up.Done(o, err)
			return true, err
		case outcomeOf(err) == OutcomeTimeout:
			p.up.Done(OutcomeTimeout, errAnswerTimeout)
			return c.errorAnswer(OutcomeTimeout, closing)
		case errors.Is(err, ErrRespMalformed) || errors.Is(err, ErrRespHeadTooLarge) || errors.Is(err, ErrRespUpgrade):
			p.up.Done(OutcomeBadGateway, err)
			return c.errorAnswer(OutcomeBadGateway, closing)
		case retryable && !retried && time.Now().Before(deadline):
			// The usual cause: a kept-alive connection the upstream closed.
			// (A drain does not stop it: unlike the loop's, the pool is not
			// being closed; the server's grace bounds the retry.)
			p.up.Retried()
			continue
		}
		p.up.Done(OutcomeBadGateway, errUpstreamEnded)
		return c.errorAnswer(OutcomeBadGateway, closing)
	}
}

// afterForward gives what is left of a forwarded answer in c.bw (at most
// its size) serveConnFlushTimeout to reach the client: the forward's
// deadline may be about to pass, or past after a 504.
func (c *blockingConn) afterForward() {
	_ = c.nc.SetWriteDeadline(time.Now().Add(serveConnFlushTimeout))
}

// errorAnswer writes the Upstream's answer for a failed outcome; during
// a drain it closes the connection.
func (c *blockingConn) errorAnswer(o Outcome, closing bool) (bool, error) {
	c.afterForward()
	closing = closing || c.draining()
	c.out = c.s.proxy.up.AppendErrorAnswer(c.out[:0], o, closing)
	if _, err := c.bw.Write(c.out); err != nil {
		return true, err
	}
	return closing, nil
}

// clientError marks a failed write to the client.
type clientError struct{ err error }

func (e clientError) Error() string { return "http1: writing to the client: " + e.err.Error() }
func (e clientError) Unwrap() error { return e.err }

// exchange writes c.req on u and copies the answer to c.bw: the head
// rewritten (Connection: close when *closing, which a close-delimited
// answer sets), the body as framed. sent reports that answer bytes went
// to the client (no retry, no error answer then); client failures are
// clientErrors.
func (c *blockingConn) exchange(u *upstreamConn, head bool, deadline time.Time, closing *bool) (sent bool, err error) {
	p := c.s.proxy
	if err := u.nc.SetDeadline(deadline); err != nil {
		return false, err
	}
	if _, err := u.nc.Write(c.req); err != nil {
		return false, err
	}
	br, rf := u.br, &u.rf
	rf.Reset(head)
	for {
		b, _ := br.Peek(br.Buffered())
		if len(b) > 0 {
			m, err := rf.ParseHead(b, p.cfg.MaxAnswerHeadBytes)
			if err != nil {
				return false, err
			}
			if m > 0 && rf.Interim {
				_, _ = br.Discard(m)
				rf.Reset(head)
				continue
			}
			if m > 0 && rf.Status == 408 && u.reused {
				// A kept-alive connection the upstream timed out (a 408
				// it sent while the connection was idle), not an answer.
				return false, errStale408
			}
			if m > 0 {
				*closing = *closing || c.draining() || rf.Framing == FramingClose
				c.out = rf.AppendClientHead(c.out[:0], b[:m], *closing)
				_, _ = br.Discard(m)
				break
			}
		}
		if _, err := br.Peek(len(b) + 1); err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				err = ErrRespHeadTooLarge
			}
			return false, err
		}
	}
	for first := true; ; first = false {
		b, _ := br.Peek(br.Buffered())
		n, done, ferr := rf.Body(b)
		if first {
			if err := c.writeHead(b[:n]); err != nil {
				return true, clientError{err}
			}
		} else if n > 0 {
			if _, err := c.bw.Write(b[:n]); err != nil {
				return true, clientError{err}
			}
		}
		_, _ = br.Discard(n)
		if ferr != nil {
			return true, ferr
		}
		if done {
			return true, nil
		}
		// The upstream has nothing buffered: the client gets what came.
		if err := c.bw.Flush(); err != nil {
			return true, clientError{err}
		}
		if _, err := br.Peek(1); err != nil {
			if err == io.EOF && rf.Framing == FramingClose {
				rf.KeepAlive = false
				return true, nil
			}
			return true, err
		}
	}
}

// writeHead writes the client head in c.out and the body bytes that came
// with it: into c.bw, or, when they overflow an empty c.bw, in one write
// of their own (c.bw would write the head apart).
func (c *blockingConn) writeHead(body []byte) error {
	if c.bw.Buffered() == 0 && len(c.out)+len(body) > c.bw.Available() {
		c.out = append(c.out, body...)
		_, err := c.nc.Write(c.out)
		return err
	}
	if _, err := c.bw.Write(c.out); err != nil {
		return err
	}
	_, err := c.bw.Write(body)
	return err
}
