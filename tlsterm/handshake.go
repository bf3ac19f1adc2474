package tlsterm

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"runtime/debug"
	"strings"
	"syscall"
	"time"
)

// handshake runs tc's TLS handshake on a worker (loop mode) and starts its
// service.
func (s *Server) handshake(tc *Conn) {
	if s.stopped.Load() || time.Since(tc.enq) > s.cfg.HandshakeTimeout {
		failQueue.Inc()
		_ = tc.file.Close()
		s.untrack(tc)
		return
	}
	nc := newSockConn(tc.file, tc.laddr, tc.raddr)
	tc.file = nil
	tc.setRaw(nc)
	s.keepAlive(nc)
	if svc := s.terminate(tc, nc); svc != nil {
		s.pool.run(serveJob{s: s, svc: svc, tc: tc})
	}
}

// terminate runs tc's TLS handshake over nc, replaying tc.replay first,
// and returns the Service to serve the terminated connection with; nil
// when the handshake failed, after closing nc and untracking tc. Both
// accept modes end here.
func (s *Server) terminate(tc *Conn, nc net.Conn) Service {
	svc := (*s.services.Load())[tc.tg.service]
	wire := &wireConn{Conn: nc, replay: tc.replay, sig: &tc.sig.TLS, timing: true}
	tc.replay = nil
	conn := tls.Server(wire, svc.conf)
	_ = nc.SetDeadline(tc.enq.Add(s.cfg.HandshakeTimeout))
	start := time.Now()
	err := conn.Handshake()
	wire.timing, wire.replay = false, nil
	if err != nil {
		reason := countFailure(err)
		s.cfg.Logger.Debug("tls: handshake failed", "remote", nc.RemoteAddr().String(), "sni", string(tc.sig.TLS.SNI[:tc.sig.TLS.SNILen]), "reason", reason, "err", err)
		_ = nc.Close()
		s.untrack(tc)
		return nil
	}
	_ = nc.SetDeadline(time.Time{})
	handshakeDuration.UpdateDuration(start)
	cs := conn.ConnectionState()
	countHandshake(&cs)
	t := &tc.sig.TLS
	t.Version, t.CipherSuite, t.Resumed = cs.Version, cs.CipherSuite, cs.DidResume
	t.ALPNLen = uint8(copy(t.ALPN[:], cs.NegotiatedProtocol))
	if t.ServerFlightTime != 0 && t.ClientDataTime != 0 {
		t.HandshakeLatency = t.ClientDataTime - t.ServerFlightTime
	}
	tc.Conn = conn
	tc.served.Store(true)
	return svc.svc
}

// serve runs a Service on tc and closes tc when it returns; a panicking
// Service costs its connection, not the process.
func (s *Server) serve(svc Service, tc *Conn) {
	defer func() {
		if r := recover(); r != nil {
			servicePanics.Inc()
			s.cfg.Logger.Error("tls: service panicked", "service", tc.tg.service, "panic", r, "stack", string(debug.Stack()))
		}
		_ = tc.Close()
	}()
	if err := svc.ServeConn(tc); err != nil && !isClosed(err) {
		s.cfg.Logger.Debug("tls: service ended with an error", "service", tc.tg.service, "err", err)
	}
}

// countFailure counts a failed handshake by reason and returns the reason.
func countFailure(err error) string {
	var ne net.Error
	var ae tls.AlertError
	msg := err.Error()
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		failTimeout.Inc()
		return "timeout"
	case isClosed(err):
		failClosed.Inc()
		return "client_closed"
	case errors.As(err, &ae) || strings.Contains(msg, "remote error"):
		failAlert.Inc()
		return "client_alert"
	case strings.Contains(msg, "application protocol"):
		failNoALPN.Inc()
		return "no_alpn"
	case strings.Contains(msg, "version") || strings.Contains(msg, "cipher suite"):
		failVersion.Inc()
		return "no_common_version_or_cipher"
	}
	failProtocol.Inc()
	return "protocol"
}

// isClosed reports errors that mean the peer (or Close) ended the
// connection.
func isClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, os.ErrClosed)
}

// passthrough relays a handed-off tc (loop mode) on its own goroutine.
func (s *Server) passthrough(tc *Conn) {
	nc := newSockConn(tc.file, tc.laddr, tc.raddr)
	tc.file = nil
	tc.setRaw(nc)
	s.keepAlive(nc)
	s.relay(tc, nc)
}

// relay relays tc's bytes, ClientHello first, to its route's backend and
// back, half-closing each way when the other side ends; then it closes nc
// and untracks tc.
func (s *Server) relay(tc *Conn, nc net.Conn) {
	defer s.untrack(tc)
	defer nc.Close()
	if s.stopped.Load() {
		return
	}
	bc, err := net.DialTimeout("tcp", tc.tg.passthrough, s.cfg.DialTimeout)
	if err != nil {
		passthroughDialErrors.Inc()
		s.cfg.Logger.Warn("tls: passthrough backend unreachable", "route", tc.tg.label, "backend", tc.tg.passthrough, "err", err)
		_, _ = nc.Write([]byte{0x15, 0x03, 0x03, 0x00, 0x02, 0x02, alertInternalError})
		return
	}
	tc.mu.Lock()
	tc.backend = bc
	tc.mu.Unlock()
	defer bc.Close()
	if _, err := bc.Write(tc.replay); err != nil {
		return
	}
	tc.replay = nil
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(nc, bc)
		closeWrite(nc)
	}()
	_, _ = io.Copy(bc, nc)
	closeWrite(bc)
	<-done
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
}

// Server.keepAliveMode values: whether handed-off sockets inherit Go's
// TCP keepalive from their listener (see PrepareListener).
const (
	keepAliveUnknown int32 = iota
	keepAliveInherited
	keepAlivePerConn
)

// keepAlive gives c Go's TCP keepalive, as net.FileConn did: nothing to
// do when the listener's sockets inherit it (checked on the first
// connection), else four setsockopt calls. Best effort, as in net.
func (s *Server) keepAlive(c syscall.Conn) {
	switch s.keepAliveMode.Load() {
	case keepAliveInherited:
		return
	case keepAliveUnknown:
		inherited := false
		_ = control(c, func(fd int) { inherited = hasKeepAlive(fd) })
		if inherited {
			s.keepAliveMode.Store(keepAliveInherited)
			return
		}
		s.keepAliveMode.Store(keepAlivePerConn)
	}
	_ = control(c, func(fd int) { _ = setKeepAlive(fd) })
}

// control runs fn on c's descriptor.
func control(c syscall.Conn, fn func(fd int)) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	return rc.Control(func(fd uintptr) { fn(int(fd)) })
}
