package http1

import (
	"bufio"

	"github.com/brink-edge/brink/loop"
)

// stream writes a streamed answer from its own goroutine through the
// loop's WriteAsync, then ends the connection.
func (s *Server) stream(c *loop.Conn, p *parser) {
	bw := bufio.NewWriterSize(asyncWriter{c}, 4<<10)
	if err := p.ctx.Response.Write(bw); err == nil {
		_ = bw.Flush()
	}
	c.Finish()
	s.putParser(p)
}

// offloaded runs the handler of a request Config.Offload picked, on its
// own goroutine, and writes the answer (Connection: close) through the
// loop's WriteAsync, then ends the connection.
func (s *Server) offloaded(c *loop.Conn, p *parser) {
	bw := bufio.NewWriterSize(asyncWriter{c}, 4<<10)
	if s.handle(&p.ctx) {
		_, _ = bw.Write(answer500)
	} else {
		frameAnswer(&p.ctx, true)
		_ = p.ctx.Response.Write(bw)
	}
	_ = bw.Flush()
	c.Finish()
	s.putParser(p)
}

// asyncWriter writes to a detached loop connection.
type asyncWriter struct{ c *loop.Conn }

func (w asyncWriter) Write(p []byte) (int, error) {
	if err := w.c.WriteAsync(p); err != nil {
		return 0, err
	}
	return len(p), nil
}
