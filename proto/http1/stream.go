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

// asyncWriter writes to a detached loop connection.
type asyncWriter struct{ c *loop.Conn }

func (w asyncWriter) Write(p []byte) (int, error) {
	if err := w.c.WriteAsync(p); err != nil {
		return 0, err
	}
	return len(p), nil
}
