package http1

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"

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
}

// Server serves HTTP/1.1 over loop connections. Create it with New.
type Server struct {
	cfg     Config
	logger  fasthttp.Logger
	parsers sync.Pool // *parser
	states  sync.Pool // *connState
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
	return &Server{cfg: cfg, logger: fasthttpLogger{cfg.Logger}}, nil
}

// parser is what serving one OnData call needs, pooled across calls and
// connections: a bufio.Reader over the call's bytes, a bufio.Writer into
// the connection's output, and the RequestCtx.
type parser struct {
	rd  memReader
	br  *bufio.Reader
	bw  *bufio.Writer
	ctx fasthttp.RequestCtx
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
}

// OnClose recycles the connection's state, unless a stream still uses it.
func (s *Server) OnClose(c *loop.Conn) {
	st, _ := c.Context().(*connState)
	if st == nil || st.streaming {
		return
	}
	*st = connState{}
	s.states.Put(st)
}

// OnData serves the complete requests at the front of in.
func (s *Server) OnData(c *loop.Conn, in []byte) (int, loop.Action) {
	st := c.Context().(*connState)
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
	req, resp := &ctx.Request, &ctx.Response
	http11 := req.Header.IsHTTP11()
	closing := req.Header.ConnectionClose()
	resp.Reset()
	ctx.ResetUserValues()
	if s.cfg.Offload != nil && s.cfg.Offload(ctx) {
		st.streaming = true // the goroutine owns st's Conn until it ends it
		p.offload = true
		_ = p.bw.Flush()
		c.Detach()
		return detached, loop.Continue
	}
	s.cfg.Handler(ctx)
	if ctx.Hijacked() {
		return s.fail(c, p, answer500)
	}
	if ctx.IsHead() {
		resp.SkipBody = true
	}
	stream := resp.IsBodyStream()
	closing = closing || stream || resp.Header.ConnectionClose() || c.Draining()
	if closing {
		resp.Header.SetConnectionClose()
	} else if !http11 {
		resp.Header.Set(fasthttp.HeaderConnection, "keep-alive")
	}
	if stream {
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
