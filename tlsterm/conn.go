package tlsterm

import (
	"crypto/tls"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/brink-edge/brink/connsig"
)

// HTTP states of a Conn served by an HTTP service (HTTPService, or one
// calling HTTPNew, HTTPActive and HTTPIdle), for the drain.
const (
	httpNone   int32 = iota // not served by an HTTP service
	httpNew                 // served, no request read yet
	httpActive              // a request is being handled
	httpIdle                // waiting for the next request
)

// Conn is a terminated TLS connection as a Service sees it: a *tls.Conn
// whose handshake is complete (Handshake and ConnectionState make
// fasthttp's RequestCtx.IsTLS true) that carries the connection's signal
// (connsig.Carrier): the TCP figures the loop captured and the TLS ones.
// Close is safe from any goroutine and more than once.
type Conn struct {
	*tls.Conn // nil until the handshake completed

	sig connsig.Signal
	srv *Server
	tg  *target

	// Set on the loop, read by the worker (the channel send orders them).
	file         *os.File
	laddr, raddr net.Addr
	replay       []byte
	enq          time.Time

	mu      sync.Mutex // guards raw and backend for the forced close
	raw     net.Conn
	backend net.Conn

	served    atomic.Bool // Conn is set: a Service has it
	closed    atomic.Bool
	httpState atomic.Int32
}

var _ connsig.Carrier = (*Conn)(nil)

// Signal returns the connection's signal; read-only.
func (c *Conn) Signal() *connsig.Signal { return &c.sig }

// Draining reports whether the Server is shutting down: a service should
// end the connection after the current answer.
func (c *Conn) Draining() bool { return c.srv.draining.Load() }

// HTTPNew reports that an HTTP service took the connection and has read
// no request yet. With HTTPActive and HTTPIdle it gives the drain the
// connection's HTTP state: Shutdown closes at once the connections that
// wait for a request (new or idle) and lets the others finish their
// answer. HTTPService reports them itself; a Service serving HTTP another
// way (http1.Server.ServeConn) calls HTTPNew when it starts, HTTPActive
// once a request's first byte arrived, and HTTPIdle before it waits for
// the next request.
func (c *Conn) HTTPNew() { c.httpState.Store(httpNew) }

// HTTPActive reports that a request is being read or answered.
func (c *Conn) HTTPActive() { c.httpState.Store(httpActive) }

// HTTPIdle reports that the connection waits for its next request. It
// returns true when the Server is draining: the service must close the
// connection instead of waiting (a drain that starts later closes it).
func (c *Conn) HTTPIdle() (closeNow bool) {
	c.httpState.Store(httpIdle)
	return c.Draining()
}

// Close sends close_notify and closes the connection.
func (c *Conn) Close() error {
	if !c.closed.CompareAndSwap(false, true) {
		return nil
	}
	var err error
	if c.Conn != nil {
		err = c.Conn.Close()
	} else if raw := c.rawConn(); raw != nil {
		err = raw.Close()
	}
	c.srv.untrack(c)
	return err
}

func (c *Conn) setRaw(nc net.Conn) {
	c.mu.Lock()
	c.raw = nc
	c.mu.Unlock()
}

func (c *Conn) rawConn() net.Conn {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.raw
}

// forceClose closes the socket (and a passthrough's backend) without
// close_notify, for the end of the shutdown grace.
func (c *Conn) forceClose() {
	c.mu.Lock()
	raw, backend := c.raw, c.backend
	c.mu.Unlock()
	if raw != nil {
		_ = raw.Close()
	}
	if backend != nil {
		_ = backend.Close()
	}
}

// wireConn is the net.Conn under tls.Server: it replays the bytes the loop
// had read (the ClientHello), then reads the socket; during the handshake
// it records when the server's first flight was written and when client
// data next arrived.
type wireConn struct {
	net.Conn
	replay []byte
	sig    *connsig.TLSSignal
	timing bool // set until the handshake ends, on the worker goroutine
}

func (w *wireConn) Read(p []byte) (int, error) {
	if len(w.replay) > 0 {
		n := copy(p, w.replay)
		w.replay = w.replay[n:]
		return n, nil
	}
	n, err := w.Conn.Read(p)
	if n > 0 && w.timing && w.sig.ServerFlightTime != 0 && w.sig.ClientDataTime == 0 {
		w.sig.ClientDataTime = monotonic()
	}
	return n, err
}

func (w *wireConn) Write(p []byte) (int, error) {
	n, err := w.Conn.Write(p)
	if w.timing && w.sig.ServerFlightTime == 0 && n > 0 {
		w.sig.ServerFlightTime = monotonic()
	}
	return n, err
}
