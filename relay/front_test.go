package relay

import (
	"crypto/tls"
	"net"
	"sync/atomic"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/brink-edge/brink/connsig"
)

// signalConn is an accepted connection that carries a signal, as the
// loop's and the capturing listener's connections do.
type signalConn struct {
	net.Conn
	sig connsig.Signal
}

func (c *signalConn) Signal() *connsig.Signal { return &c.sig }

// tlsSignalConn is a TLS connection that carries a signal: fasthttp sees
// it as TLS (Handshake, ConnectionState) and the relay finds the signal.
type tlsSignalConn struct {
	*tls.Conn
	sig connsig.Signal
}

func (c *tlsSignalConn) Signal() *connsig.Signal { return &c.sig }

// signalListener gives every accepted connection a signal whose RTT is a
// running number (so tests tell connections apart), TTL 64 and a SYN seen
// by the fallback.
type signalListener struct {
	net.Listener
	tls *tls.Config
	n   atomic.Uint32
}

func fillSignal(s *connsig.Signal, n uint32) {
	s.Reset()
	s.RTT, s.MinRTT, s.TTL, s.IPVersion, s.Window, s.SYNMSS = 1000+n, 900, 64, 4, 65495, 65495
	s.DF, s.Timestamps, s.SACKPermitted, s.WScale = true, true, true, 7
	s.Options, s.NumOptions = [connsig.MaxOptions]uint8{2, 4, 8, 1, 3}, 5
	s.TimingSource, s.SYNSource = connsig.SourceFallback, connsig.SourceFallback
}

func (l *signalListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	n := l.n.Add(1)
	if l.tls != nil {
		tc := &tlsSignalConn{Conn: tls.Server(c, l.tls)}
		fillSignal(&tc.sig, n)
		return tc, nil
	}
	sc := &signalConn{Conn: c}
	fillSignal(&sc.sig, n)
	return sc, nil
}

// front is brink's side: a fasthttp server on 127.0.0.1 whose connections
// carry signals, serving the relay's routes and 404 elsewhere.
type front struct {
	addr string
	srv  *fasthttp.Server
}

func startFront(t testing.TB, r *Relay, tlsCfg *tls.Config, stream bool) *front {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &front{addr: ln.Addr().String()}
	f.srv = &fasthttp.Server{
		Handler: func(ctx *fasthttp.RequestCtx) {
			if r.Match(ctx) {
				r.Handle(ctx)
				return
			}
			ctx.Error(`{"error":"no route"}`, fasthttp.StatusNotFound)
		},
		StreamRequestBody:  stream,
		MaxRequestBodySize: 64 << 20,
	}
	go func() { _ = f.srv.Serve(&signalListener{Listener: ln, tls: tlsCfg}) }()
	t.Cleanup(func() { _ = f.srv.Shutdown() })
	return f
}
