package http1

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/brink-edge/brink/loop"
)

// Defaults used for zero Config fields.
const (
	DefaultMaxHeaderBytes = 8 << 10
	DefaultMaxBodyBytes   = 4 << 20
)

// Config configures a Server. The zero value of every field means its
// documented default; Handler is required.
type Config struct {
	// Handler answers the requests. Required.
	Handler fasthttp.RequestHandler
	// MaxHeaderBytes bounds a request's line and headers; a larger one is
	// answered 431 and the connection closed. Zero means 8 KiB (as
	// cmd/brink's fasthttp.Server ReadBufferSize).
	MaxHeaderBytes int
	// MaxBodyBytes bounds a request's body; a larger one is answered 413
	// and the connection closed. Zero means 4 MiB.
	MaxBodyBytes int
	// Logger receives fasthttp's messages about requests (RequestCtx.Logger)
	// at debug level. Nil discards them.
	Logger *slog.Logger
	// Offload, when set, is asked about every complete request before the
	// handler runs; a request it reports true for (one whose handler may
	// wait, e.g. on the network) is served on a goroutine of its own, so
	// the loop goes on with its other connections meanwhile. Its answer
	// closes the connection (requests pipelined behind it are discarded,
	// as behind a streamed answer). Offload runs on the loop: it must be
	// quick and must not block. Nil runs every handler on the loop.
	Offload func(*fasthttp.RequestCtx) bool
	// Proxy, when set, forwards the HTTP/1.1 requests its Upstream matches
	// to the upstream as bytes, over keep-alive connections of the loop
	// (see proxy.go); the others go to Handler.
	Proxy *ProxyConfig
	// OnOpen, when set, is called on the loop with each new connection's
	// net.Conn adapter (its addresses and its signal, connsig.Carrier)
	// before any request: brink ships the signal records of every
	// connection from here. It must not block or keep the adapter.
	OnOpen func(net.Conn)
}

// Server serves HTTP/1.1 over loop connections. Create it with New.
type Server struct {
	cfg     Config
	logger  fasthttp.Logger
	parsers sync.Pool // *parser
	states  sync.Pool // *connState
	proxy   *proxy
	sc      *serveConns // ServeConn's shared state (serveconn.go)
}

var _ loop.Handler = (*Server)(nil)

// New returns a Server for cfg after filling defaults.
func New(cfg Config) (*Server, error) {
	if cfg.Handler == nil {
		return nil, ErrNoHandler
	}
	if cfg.MaxHeaderBytes <= 0 {
		cfg.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, logger: fasthttpLogger{cfg.Logger}}
	if pc := cfg.Proxy; pc != nil {
		if pc.Upstream == nil || pc.Addr == "" {
			return nil, ErrProxyConfig
		}
		c := *pc
		c.Timeout = cmp.Or(c.Timeout, 30*time.Second)
		c.IdleConnTimeout = cmp.Or(c.IdleConnTimeout, 10*time.Second)
		c.MaxConnsPerLoop = cmp.Or(c.MaxConnsPerLoop, 512)
		c.MaxBodyBytes = cmp.Or(c.MaxBodyBytes, cfg.MaxBodyBytes)
		c.MaxAnswerHeadBytes = cmp.Or(c.MaxAnswerHeadBytes, 64<<10)
		c.MaxBacklog = cmp.Or(c.MaxBacklog, 64<<20)
		s.proxy = &proxy{s: s, cfg: c, up: c.Upstream}
	}
	s.sc = &serveConns{}
	if s.proxy != nil {
		s.sc.pool = newConnPool(&s.proxy.cfg)
	}
	return s, nil
}

// OnLoopTick applies the proxy's timeouts (loop.LoopTicker).
func (s *Server) OnLoopTick(local *any, now int64) {
	if s.proxy != nil {
		s.proxy.tick(local, now)
	}
}

// parser is what serving one OnData call needs, pooled across calls and
// connections: a bufio.Reader over the call's bytes, a bufio.Writer into
// the connection's output, and the RequestCtx.
type parser struct {
	rd  memReader
	br  *bufio.Reader
	bw  *bufio.Writer
	ctx fasthttp.RequestCtx
	uri fasthttp.URI // parseURI's
	// offload marks a detached request whose handler has yet to run (on
	// the offloaded goroutine), as opposed to a streamed answer.
	offload bool
}

func (s *Server) getParser() *parser {
	if v := s.parsers.Get(); v != nil {
		return v.(*parser)
	}
	p := &parser{}
	p.br = bufio.NewReaderSize(&p.rd, s.cfg.MaxHeaderBytes)
	p.bw = bufio.NewWriterSize(io.Discard, 4<<10)
	return p
}

func (s *Server) putParser(p *parser) {
	p.ctx.Request.Reset()
	p.ctx.Response.Reset()
	p.ctx.ResetUserValues()
	p.rd.reset(nil)
	p.br.Reset(&p.rd)
	p.bw.Reset(io.Discard)
	p.offload = false
	s.parsers.Put(p)
}

// OnOpen prepares the connection's state.
func (s *Server) OnOpen(c *loop.Conn) {
	st, _ := s.states.Get().(*connState)
	if st == nil {
		st = new(connState)
	}
	st.nc.c = c
	c.SetContext(st)
	if s.cfg.OnOpen != nil {
		s.cfg.OnOpen(&st.nc)
	}
}

// OnClose recycles the connection's state, unless a stream still uses it.
func (s *Server) OnClose(c *loop.Conn) {
	st, _ := c.Context().(*connState)
	if st == nil || st.streaming {
		return
	}
	f := st.fwd
	if f != nil && f.active {
		s.proxy.clientClosed(f, c.LoopLocal())
	}
	*st = connState{fwd: f}
	s.states.Put(st)
}

// OnData serves the complete requests at the front of in.
func (s *Server) OnData(c *loop.Conn, in []byte) (int, loop.Action) {
	st := c.Context().(*connState)
	if st.fwd != nil && st.fwd.active {
		// Waiting for the upstream's answer: later requests wait too.
		if len(in) > s.cfg.MaxHeaderBytes+s.cfg.MaxBodyBytes {
			s.proxy.clientClosed(st.fwd, c.LoopLocal())
			return len(in), loop.Close
		}
		return 0, loop.Continue
	}
	if len(in) < st.need {
		return 0, loop.Continue
	}
	p := s.getParser()
	p.ctx.Init2(&st.nc, s.logger, false)
	p.rd.reset(in)
	p.br.Reset(&p.rd)
	p.bw.Reset(c)
	consumed, act := 0, loop.Continue
	for consumed < len(in) && act == loop.Continue {
		var r result
		r, act = s.serve(c, st, p, in, consumed)
		if r == incomplete {
			break
		}
		if r == detached {
			_ = p.bw.Flush()
			// The parser now belongs to the stream (or offloaded
			// request's) goroutine; requests pipelined behind it are
			// discarded.
			if p.offload {
				go s.offloaded(c, p)
			} else {
				go s.stream(c, p)
			}
			return len(in), loop.Continue
		}
		consumed = p.rd.pos - p.br.Buffered()
		if r == forwarded {
			break // the rest waits for the answer
		}
	}
	_ = p.bw.Flush()
	s.putParser(p)
	if act == loop.Close {
		consumed = len(in)
	}
	return consumed, act
}

// result is how serving one request ended.
type result uint8

const (
	served     result = iota
	incomplete        // wait for more bytes; nothing consumed
	detached          // handed to a stream goroutine
	forwarded         // in flight to the upstream (Config.Proxy)
)

// serve reads one request starting at in[start:] and answers it.
func (s *Server) serve(c *loop.Conn, st *connState, p *parser, in []byte, start int) (result, loop.Action) {
	rest := in[start:]
	hend := headerEnd(rest)
	if hend < 0 {
		if len(rest) > s.cfg.MaxHeaderBytes {
			return s.fail(c, p, answer431)
		}
		st.need = len(rest) + 1
		return incomplete, loop.Continue
	}
	if hend > s.cfg.MaxHeaderBytes {
		return s.fail(c, p, answer431)
	}
	ctx := &p.ctx
	req := &ctx.Request
	req.Reset()
	if err := req.Header.Read(p.br); err != nil {
		var small *fasthttp.ErrSmallBuffer
		switch {
		case errors.As(err, &small):
			return s.fail(c, p, answer431)
		case errors.Is(err, fasthttp.ErrNeedMore):
			st.need = len(rest) + 1
			return incomplete, loop.Continue
		}
		return s.fail(c, p, answer400)
	}
	bodyStart := p.rd.pos - p.br.Buffered()
	cl := req.Header.ContentLength()
	switch {
	case cl > s.cfg.MaxBodyBytes:
		return s.fail(c, p, answer413)
	case cl > 0 && len(in)-bodyStart < cl:
		s.maybeContinue(c, st, p, len(in) == bodyStart)
		st.need = bodyStart + cl - start
		return incomplete, loop.Continue
	case cl == -1:
		s.maybeContinue(c, st, p, len(in) == bodyStart)
	}
	if err := req.ContinueReadBody(p.br, s.cfg.MaxBodyBytes, false); err != nil {
		switch {
		case errors.Is(err, fasthttp.ErrBodyTooLarge):
			return s.fail(c, p, answer413)
		case cl == -1 && truncated(err):
			if len(rest) > s.cfg.MaxHeaderBytes+s.cfg.MaxBodyBytes {
				return s.fail(c, p, answer413)
			}
			st.need = len(rest) + 1
			return incomplete, loop.Continue
		}
		return s.fail(c, p, answer400)
	}
	st.need, st.continued = 0, false
	if !parseURI(ctx, &p.uri) {
		return s.fail(c, p, answer400)
	}
	if s.proxy != nil && s.proxy.wants(ctx) {
		_ = p.bw.Flush() // answers before this one go first
		inFlight, closing := s.proxy.start(c, st, ctx, rest[:hend])
		switch {
		case inFlight:
			return forwarded, loop.Continue
		case closing:
			return served, loop.Close
		}
		return served, loop.Continue
	}
	return s.answer(c, st, p)
}

// maybeContinue sends 100 Continue once for a request that asks for it
// and whose body has not started arriving.
func (s *Server) maybeContinue(c *loop.Conn, st *connState, p *parser, noBody bool) {
	if st.continued || !noBody || !p.ctx.Request.MayContinue() {
		return
	}
	st.continued = true
	_ = p.bw.Flush()
	_, _ = c.Write(answer100)
}

// answer runs the handler and writes its answer.
func (s *Server) answer(c *loop.Conn, st *connState, p *parser) (result, loop.Action) {
	ctx := &p.ctx
	resp := &ctx.Response
	resp.Reset()
	ctx.ResetUserValues()
	if s.cfg.Offload != nil && s.cfg.Offload(ctx) {
		st.streaming = true // the goroutine owns st's Conn until it ends it
		p.offload = true
		_ = p.bw.Flush()
		c.Detach()
		return detached, loop.Continue
	}
	if s.handle(ctx) {
		return s.fail(c, p, answer500)
	}
	closing := frameAnswer(ctx, c.Draining())
	if resp.IsBodyStream() {
		st.streaming = true
		_ = p.bw.Flush()
		c.Detach()
		return detached, loop.Continue
	}
	if err := resp.Write(p.bw); err != nil {
		return served, loop.Close
	}
	if closing {
		return served, loop.Close
	}
	return served, loop.Continue
}

// handle runs the Handler on ctx. A hijack (not supported) is undone and
// reported: the caller answers 500 and closes.
func (s *Server) handle(ctx *fasthttp.RequestCtx) (hijacked bool) {
	s.cfg.Handler(ctx)
	if ctx.Hijacked() {
		ctx.Hijack(nil)
		return true
	}
	return false
}

// frameAnswer prepares the handler's answer in ctx as fasthttp.Server does and
// reports whether the connection closes after it: a HEAD answer skips its
// body; the connection closes (Connection: close) after a streamed
// answer, when the request or the answer asks for it, or when closeAnyway;
// an HTTP/1.0 request that keeps the connection gets Connection:
// keep-alive.
func frameAnswer(ctx *fasthttp.RequestCtx, closeAnyway bool) (closing bool) {
	req, resp := &ctx.Request, &ctx.Response
	if ctx.IsHead() {
		resp.SkipBody = true
	}
	closing = closeAnyway || req.Header.ConnectionClose() || resp.IsBodyStream() || resp.Header.ConnectionClose()
	if closing {
		resp.Header.SetConnectionClose()
	} else if !req.Header.IsHTTP11() {
		resp.Header.Set(fasthttp.HeaderConnection, "keep-alive")
	}
	return closing
}

// fail answers a bad request with a canned answer and closes.
func (s *Server) fail(c *loop.Conn, p *parser, answer []byte) (result, loop.Action) {
	_ = p.bw.Flush()
	_, _ = c.Write(answer)
	return served, loop.Close
}

// truncated reports whether a body read failed for lack of bytes.
func truncated(err error) bool {
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, fasthttp.ErrNeedMore)
}

// fasthttpLogger sends fasthttp's request messages to slog at debug
// level; they are client faults, not server events.
type fasthttpLogger struct{ l *slog.Logger }

func (f fasthttpLogger) Printf(format string, args ...any) {
	f.l.Debug(fmt.Sprintf(format, args...))
}

// parseURI parses the request's target into u and hands it to the
// request, reporting whether it parses: fasthttp.Server answers 400 to a
// target that does not, before its handler runs, but RequestCtx.URI hides
// the error and yields a guess. Handed over, the URI is not parsed again
// when the handler or the proxy reads it.
func parseURI(ctx *fasthttp.RequestCtx, u *fasthttp.URI) bool {
	h := &ctx.Request.Header
	if u.Parse(h.Host(), h.RequestURI()) != nil {
		return false
	}
	if ctx.IsTLS() {
		u.SetScheme("https") // as the request's own parse sets it
	}
	ctx.Request.SetURI(u)
	return true
}
