package http1

import (
	"net"
	"time"

	"github.com/brink-edge/brink/connsig"
	"github.com/brink-edge/brink/loop"
)

// connState is the per-connection state: the net.Conn adapter and what
// is known of a pending incomplete request.
type connState struct {
	nc netConn
	// need is how many bytes OnData needs before parsing again is worth it
	// (the pending request's known size), 0 when unknown.
	need int
	// continued is set once 100 Continue was sent for the pending request.
	continued bool
	// streaming is set once the connection was handed to a stream
	// goroutine; such a state is not recycled.
	streaming bool
	// fwd is the connection's forwarded request (Config.Proxy), kept for
	// reuse by its next one.
	fwd *fwd
}

// netConn is the net.Conn a RequestCtx returns from Conn(): the loop
// connection's addresses, its signal (connsig.Carrier) and Close. It
// cannot be read or written.
type netConn struct {
	c *loop.Conn
}

var (
	_ net.Conn        = (*netConn)(nil)
	_ connsig.Carrier = (*netConn)(nil)
)

// Signal returns the connection's signal.
func (n *netConn) Signal() *connsig.Signal { return n.c.Signal() }

// Read is not supported.
func (n *netConn) Read([]byte) (int, error) { return 0, ErrUnsupported }

// Write is not supported.
func (n *netConn) Write([]byte) (int, error) { return 0, ErrUnsupported }

// Close closes the connection; it is safe from any goroutine.
func (n *netConn) Close() error { return n.c.Close() }

// LocalAddr returns the local address.
func (n *netConn) LocalAddr() net.Addr { return n.c.LocalAddr() }

// RemoteAddr returns the peer's address.
func (n *netConn) RemoteAddr() net.Addr { return n.c.RemoteAddr() }

// SetDeadline does nothing: the loop applies its own timeouts.
func (n *netConn) SetDeadline(time.Time) error { return nil }

// SetReadDeadline does nothing: the loop applies its own timeouts.
func (n *netConn) SetReadDeadline(time.Time) error { return nil }

// SetWriteDeadline does nothing: the loop applies its own timeouts.
func (n *netConn) SetWriteDeadline(time.Time) error { return nil }
