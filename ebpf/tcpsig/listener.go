package tcpsig

import (
	"net"

	"github.com/brink-edge/brink/connsig"
)

// Listener wraps a TCP listener of the standard library (the
// fasthttp.Server path) so that every accepted connection carries its
// signal: Accept captures it with c right away and returns a net.Conn that
// implements connsig.Carrier. The event loop does the same by itself.
//
// The listener should have been prepared with c's PrepareListener (for
// TCP_SAVE_SYN) before its first Accept; NewListener does that.
type Listener struct {
	net.Listener
	c connsig.Capturer
}

// NewListener prepares ln for c and wraps it. ln must be a *net.TCPListener
// (not multipath TCP, which rejects TCP_SAVE_SYN).
func NewListener(ln net.Listener, c Capturer) (*Listener, error) {
	if tl, ok := ln.(*net.TCPListener); ok {
		rc, err := tl.SyscallConn()
		if err != nil {
			return nil, err
		}
		var perr error
		if err := rc.Control(func(fd uintptr) { perr = c.PrepareListener(int(fd)) }); err != nil {
			return nil, err
		}
		if perr != nil {
			return nil, perr
		}
	}
	return &Listener{Listener: ln, c: c}, nil
}

// Accept returns the next connection with its signal captured: with
// CaptureAddr when the capturer has it (the eBPF capture; the standard
// library already knows both addresses from accept, so that costs no system
// call), else with Capture. A failed capture leaves the signal empty and is
// counted by the capturer itself (brink_signal_captures_total{source="none"});
// the connection is served anyway.
func (l *Listener) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	sc := &signalConn{Conn: conn}
	sc.sig.Reset()
	if tc, ok := conn.(*net.TCPConn); ok {
		if rc, err := tc.SyscallConn(); err == nil {
			_ = rc.Control(func(fd uintptr) { _ = connsig.CaptureConn(l.c, int(fd), tc.LocalAddr(), tc.RemoteAddr(), &sc.sig) })
		}
	}
	return sc, nil
}

// signalConn is an accepted connection with its signal.
type signalConn struct {
	net.Conn
	sig connsig.Signal
}

// Signal implements connsig.Carrier.
func (c *signalConn) Signal() *connsig.Signal { return &c.sig }
