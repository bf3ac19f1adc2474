package tlsterm

import (
	"context"
	"errors"
	"log/slog"
	"net"

	"github.com/brink-edge/brink/proto/tlshello"
)

// verdict is what the Server decided about the bytes a connection sent
// so far. The zero verdict means: wait for more.
type verdict struct {
	tg    *target // admitted to this route (nil when refused or waiting)
	alert byte    // refused: send this fatal alert, then close (0: none)
	http  bool    // refused: answer plainHTTPAnswer, then close
	close bool    // refused: close (after the alert or answer, if any)
}

// peer is what decide needs of a connection: its address, for debug
// logs. Both *loop.Conn and *net.TCPConn have it.
type peer interface {
	RemoteAddr() net.Addr
}

// decide parses in as a ClientHello into h and takes the routing decision
// both accept modes share: wait for more bytes, refuse the connection
// (alert, plain-HTTP answer, or close; counted in
// brink_tls_hello_rejects_total), or admit it to a route. Admitting a
// terminating route reserves a handshake slot (s.pending), which the
// caller gives back (s.pending.Add(-1)) when the handshake ends or cannot
// start. It allocates nothing and never blocks.
func (s *Server) decide(h *tlshello.Hello, in []byte, p peer) verdict {
	if err := h.Parse(in); err != nil {
		return s.badHello(p, in, err)
	}
	if s.draining.Load() {
		rejectShutdown.Inc()
		return verdict{alert: alertUserCanceled, close: true}
	}
	tg := s.table.lookup(h)
	if tg == nil {
		rejectUnknown.Inc()
		if s.cfg.Logger.Enabled(context.Background(), slog.LevelDebug) {
			s.cfg.Logger.Debug("tls: no route for the server name", "sni", string(h.ServerName()), "remote", p.RemoteAddr().String())
		}
		return verdict{alert: alertUnrecognizedName, close: true}
	}
	if s.cfg.MaxConns > 0 && s.open.Load() >= int64(s.cfg.MaxConns) {
		rejectMaxConns.Inc()
		return verdict{alert: alertInternalError, close: true}
	}
	if tg.passthrough == "" && s.pending.Add(1) > s.maxPending.Load() {
		s.pending.Add(-1)
		rejectBusy.Inc()
		return verdict{alert: alertInternalError, close: true}
	}
	return verdict{tg: tg}
}

// badHello decides about a ClientHello that is incomplete, too large, not
// TLS or malformed.
func (s *Server) badHello(p peer, in []byte, err error) verdict {
	switch {
	case errors.Is(err, tlshello.ErrNeedMore):
		if len(in) <= MaxHelloBytes {
			return verdict{}
		}
		fallthrough
	case errors.Is(err, tlshello.ErrTooLarge):
		rejectTooLarge.Inc()
		s.debug(p, "tls: ClientHello over 16 KiB", err)
		return verdict{alert: alertRecordOverflow, close: true}
	case errors.Is(err, tlshello.ErrNotTLS):
		rejectNotTLS.Inc()
		s.debug(p, "tls: not a TLS connection", err)
		return verdict{http: looksHTTP(in), close: true}
	default:
		rejectMalformed.Inc()
		s.debug(p, "tls: malformed ClientHello", err)
		return verdict{alert: alertDecodeError, close: true}
	}
}

// debug logs a refused connection when debug logging is on; refusals are
// counted, so a flood of junk costs no log formatting by default.
func (s *Server) debug(p peer, msg string, err error) {
	if s.cfg.Logger.Enabled(context.Background(), slog.LevelDebug) {
		s.cfg.Logger.Debug(msg, "remote", p.RemoteAddr().String(), "err", err)
	}
}

// admit makes tc, admitted to route tg with the ClientHello h, one of
// the Server's connections: its TLS signal from the hello, the route's
// count, and tracking (Open, MaxConns, Shutdown).
func (s *Server) admit(tc *Conn, h *tlshello.Hello) {
	h.FillSignal(&tc.sig.TLS)
	tc.sig.TLS.HelloTime = monotonic()
	s.track(tc)
	tc.tg.count.Inc()
}
