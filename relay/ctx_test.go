package relay

import (
	"net"

	"github.com/valyala/fasthttp"

	"github.com/brink-edge/brink/connsig"
)

// fasthttpCtx is a RequestCtx over a signal-carrying fake connection, for
// calling Match and Handle without a server.
type fasthttpCtx struct {
	fasthttp.RequestCtx
	conn signalConn
}

type fakeAddrConn struct{ net.Conn }

var fakePeer = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}

func (fakeAddrConn) RemoteAddr() net.Addr { return fakePeer }
func (fakeAddrConn) LocalAddr() net.Addr  { return fakePeer }

func (c *fasthttpCtx) init(host, path string) {
	c.conn.Conn = fakeAddrConn{}
	fillSignal(&c.conn.sig, 1)
	c.Init2(&c.conn, nil, false)
	c.Request.Header.SetHost(host)
	c.Request.SetRequestURI(path)
}

var _ connsig.Carrier = (*signalConn)(nil)

func plainFront(r *Relay) *fasthttp.Server {
	return &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		if r.Match(ctx) {
			r.Handle(ctx)
			return
		}
		ctx.Error(`{"error":"no route"}`, fasthttp.StatusNotFound)
	}}
}
