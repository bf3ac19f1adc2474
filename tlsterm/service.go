package tlsterm

import (
	"net"
	"time"

	"github.com/valyala/fasthttp"
)

// HTTPService serves HTTP/1.1 over terminated connections with a
// fasthttp.Server's ServeConn. fasthttp has no HTTP/2, so it negotiates
// only "http/1.1": a client offering h2 and http/1.1 gets http/1.1.
// Request handlers see the connection's signal through
// ctx.Conn().(connsig.Carrier), and ctx.IsTLS() is true.
type HTTPService struct {
	srv *fasthttp.Server
}

var _ Protocols = (*HTTPService)(nil)

// NewHTTPService serves h with brink's fasthttp settings: 15 s read
// timeout, 90 s idle timeout, 4 MiB bodies.
func NewHTTPService(h fasthttp.RequestHandler) *HTTPService {
	return NewHTTPServiceFrom(&fasthttp.Server{
		Handler:               h,
		Name:                  "brink",
		NoDefaultServerHeader: true,
		ReadTimeout:           15 * time.Second,
		IdleTimeout:           90 * time.Second,
		MaxRequestBodySize:    4 << 20,
		ReadBufferSize:        8 << 10,
	})
}

// NewHTTPServiceFrom serves with srv, which the service owns from now on:
// it wraps srv.Handler (to end connections after their answer while the
// Server drains) and srv.ConnState (to close idle ones); a nil Handler
// answers 404. Do not set
// srv.MaxConnsPerIP: it hides the connection's signal.
func NewHTTPServiceFrom(srv *fasthttp.Server) *HTTPService {
	h, hook := srv.Handler, srv.ConnState
	if h == nil {
		h = func(ctx *fasthttp.RequestCtx) { ctx.NotFound() }
	}
	srv.Handler = func(ctx *fasthttp.RequestCtx) {
		h(ctx)
		if c, ok := ctx.Conn().(*Conn); ok && c.Draining() {
			ctx.SetConnectionClose()
		}
	}
	srv.ConnState = func(nc net.Conn, st fasthttp.ConnState) {
		if c, ok := nc.(*Conn); ok {
			switch st {
			case fasthttp.StateActive:
				c.HTTPActive()
			case fasthttp.StateIdle:
				if c.HTTPIdle() {
					_ = c.Close()
				}
			}
		}
		if hook != nil {
			hook(nc, st)
		}
	}
	return &HTTPService{srv: srv}
}

// ServeConn serves HTTP requests on c until the client or a timeout ends
// the connection.
func (s *HTTPService) ServeConn(c net.Conn) error {
	if tc, ok := c.(*Conn); ok {
		tc.HTTPNew()
	}
	return s.srv.ServeConn(c)
}

// Protocols returns the ALPN protocols served: http/1.1.
func (s *HTTPService) Protocols() []string { return []string{"http/1.1"} }

// HTTPConnService is a Service that serves HTTP/1.1 with Serve (in brink,
// http1.Server.ServeConn, which reports the connection's HTTP state
// through Conn's HTTPNew, HTTPActive and HTTPIdle so that Shutdown
// closes idle connections). Like HTTPService it negotiates only
// "http/1.1".
type HTTPConnService struct {
	Serve func(net.Conn) error
}

var _ Protocols = HTTPConnService{}

// ServeConn serves c with Serve.
func (s HTTPConnService) ServeConn(c net.Conn) error { return s.Serve(c) }

// Protocols returns the ALPN protocols served: http/1.1.
func (HTTPConnService) Protocols() []string { return []string{"http/1.1"} }

// TunnelUnavailableMessage is the 503 body of the tunnel hosts until a
// tunnel service is registered.
const TunnelUnavailableMessage = `{"error":"tunnel engine not available","detail":"this host name is reserved for tunnels, and this brink serves none yet"}`

// tunnelUnavailable answers every request with 503 and
// TunnelUnavailableMessage.
func tunnelUnavailable() *HTTPService {
	return NewHTTPService(func(ctx *fasthttp.RequestCtx) {
		ctx.Response.Header.Set("Retry-After", "3600")
		ctx.Response.Header.Set("Cache-Control", "no-store")
		ctx.SetContentType("application/json")
		ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
		ctx.SetBodyString(TunnelUnavailableMessage)
	})
}
