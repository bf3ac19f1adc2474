package connsig

import (
	"net"
	"net/netip"
)

// Source says where a group of values came from.
type Source uint8

const (
	// SourceNone means the values were not captured.
	SourceNone Source = iota
	// SourceEBPF means a BPF program recorded them in the kernel.
	SourceEBPF
	// SourceFallback means getsockopt (TCP_SAVED_SYN, TCP_INFO) after accept.
	SourceFallback
)

// String returns "none", "ebpf" or "fallback", the names used in the JSON
// and the captureSource property (and "unknown" for other values).
func (src Source) String() string {
	switch src {
	case SourceNone:
		return "none"
	case SourceEBPF:
		return "ebpf"
	case SourceFallback:
		return "fallback"
	}
	return "unknown"
}

// rank orders sources by how much they know: ebpf > fallback > none.
func (src Source) rank() int {
	switch src {
	case SourceEBPF:
		return 2
	case SourceFallback:
		return 1
	}
	return 0
}

// CaptureSource is the better of s.TimingSource and s.SYNSource (ebpf over
// fallback over none): the captureSource property.
func (s *Signal) CaptureSource() Source {
	if s.SYNSource.rank() > s.TimingSource.rank() {
		return s.SYNSource
	}
	return s.TimingSource
}

// MaxOptions bounds the TCP option kinds recorded from the SYN.
const MaxOptions = 16

// Signal is one connection's signal. Times are kernel CLOCK_MONOTONIC
// nanoseconds (only eBPF records them; compare them only within one Signal);
// durations are nanoseconds; zero means unknown. The package doc says which
// capture mode fills which field.
type Signal struct {
	// SYNTime, SYNACKTime and ACKTime are when the SYN arrived, the SYN-ACK
	// was sent and the handshake's ACK arrived.
	SYNTime, SYNACKTime, ACKTime int64
	// HandshakeRTT is ACKTime - SYNACKTime: one round trip to the client.
	HandshakeRTT int64
	// RTT, RTTVar and MinRTT are TCP_INFO's smoothed RTT, its variance and
	// the minimum RTT seen, in microseconds.
	RTT, RTTVar, MinRTT uint32
	// MSS is TCP_INFO's send MSS; Retransmits its total retransmissions.
	MSS, Retransmits uint32

	// IPVersion is 4 or 6 (0 when the SYN was not seen).
	IPVersion uint8
	// TTL is the SYN's IP TTL (IPv4) or hop limit (IPv6).
	TTL uint8
	// DF is the SYN's don't-fragment bit (IPv4 only).
	DF bool
	// Window is the SYN's advertised window, unscaled.
	Window uint16
	// WScale is the SYN's window scale option, -1 when absent.
	WScale int8
	// SYNMSS is the SYN's MSS option, 0 when absent.
	SYNMSS uint16
	// Timestamps reports whether the SYN carried the timestamp option.
	Timestamps bool
	// SACKPermitted reports whether the SYN carried SACK-permitted.
	SACKPermitted bool
	// SYNCookie reports that the kernel answered the SYN with a syncookie
	// (no request socket was kept; only eBPF sees this).
	SYNCookie bool
	// Options are the SYN's TCP option kinds in order (NumOptions of them).
	Options    [MaxOptions]uint8
	NumOptions uint8

	// TimingSource is where the handshake times and RTT figures came from;
	// SYNSource where the SYN headers came from.
	TimingSource, SYNSource Source

	// TLS holds the TLS-level signal of a connection that brink terminated
	// (or routed by its ClientHello); its zero value means plain TCP.
	TLS TLSSignal
}

// Size bounds of the TLS signal's fixed-size text fields.
const (
	MaxSNI  = 255 // a DNS name
	MaxALPN = 32  // the negotiated protocol ("http/1.1", "h2", "rstrm/1")
	JA4Len  = 36  // "t13d1516h2_8daaf6152771_e5627efa2ab1"
	JA3Len  = 32  // MD5 in lowercase hex
)

// TLSSignal is what the ClientHello and the TLS handshake tell about a
// connection. Text fields are fixed-size arrays with a length, so a Signal
// stays a plain value that is reused without allocation.
type TLSSignal struct {
	// HelloVersion is the highest TLS version the ClientHello offers
	// (supported_versions, else legacy_version), e.g. 0x0304.
	HelloVersion uint16
	// Version and CipherSuite are what the handshake negotiated (0 when it
	// did not complete, or for a passthrough route).
	Version, CipherSuite uint16
	// Resumed reports a session resumed from a ticket.
	Resumed bool
	// HelloTime is when the ClientHello was complete, ServerFlightTime when
	// brink's ServerHello flight was written and ClientDataTime when the
	// client's next data (its Finished in TLS 1.3) arrived after that:
	// CLOCK_MONOTONIC nanoseconds as in the TCP times.
	HelloTime, ServerFlightTime, ClientDataTime int64
	// HandshakeLatency is ClientDataTime - ServerFlightTime: one round trip
	// to the client measured at the TLS layer, in nanoseconds.
	HandshakeLatency int64

	SNI     [MaxSNI]byte
	SNILen  uint8
	ALPN    [MaxALPN]byte // negotiated
	ALPNLen uint8
	JA4     [JA4Len]byte // empty (all zero) when no ClientHello was parsed
	JA3     [JA3Len]byte
}

// Reset clears s for reuse.
func (s *Signal) Reset() { *s = Signal{WScale: -1} }

// Capturer fills a connection's Signal from its socket right after accept.
// ebpf provides the eBPF implementation and the getsockopt fallback; cmd
// hands one to loop. Capture must not block and must not allocate, and must
// be safe to call from concurrently running loops.
type Capturer interface {
	Capture(fd int, s *Signal) error
}

// AddrCapturer is implemented by Capturers that can find a connection's
// record from its addresses instead of asking the socket (the eBPF
// capture keys its records by the connection's addresses, so this saves
// the getsockopt(SO_COOKIE) that Capture needs). Callers that know the
// accepted socket's addresses (the loop does, from accept) call
// CaptureAddr instead of Capture; local may carry an unspecified address
// (a listener bound to 0.0.0.0 or ::) when only its port is known. The
// same rules as Capture apply: no blocking, no allocation, safe for
// concurrent use; a result that cannot be matched to the addresses falls
// back to what Capture would do.
type AddrCapturer interface {
	CaptureAddr(fd int, local, remote netip.AddrPort, s *Signal) error
}

// CaptureConn fills s for the accepted socket fd whose addresses are
// local and remote (as accept gave them): with CaptureAddr when c is an
// AddrCapturer and both are TCP addresses, else with Capture. Every
// accept path (the loop, TLS on the netpoller, the fasthttp listener)
// captures through it. It allocates nothing.
func CaptureConn(c Capturer, fd int, local, remote net.Addr, s *Signal) error {
	if ac, ok := c.(AddrCapturer); ok {
		la, lok := local.(*net.TCPAddr)
		ra, rok := remote.(*net.TCPAddr)
		if lok && rok {
			return ac.CaptureAddr(fd, la.AddrPort(), ra.AddrPort(), s)
		}
	}
	return c.Capture(fd, s)
}

// ListenerPreparer is implemented by Capturers that need a setting on the
// listening socket before connections arrive (the fallback's TCP_SAVE_SYN).
// loop calls PrepareListener once per listening fd, before accepting.
type ListenerPreparer interface {
	PrepareListener(fd int) error
}

// Carrier is implemented by connections that carry a Signal (the loop's
// connections, and the fallback listener's); request handlers find the
// signal through it.
type Carrier interface {
	Signal() *Signal
}
