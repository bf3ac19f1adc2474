// Package connsig holds brink's per-connection signal: the SYN's arrival and
// headers, the TCP handshake timing and the kernel's RTT figures (and, with
// TLS, the ClientHello fingerprint and handshake latency). It is a plain data
// type shared by the stages: ebpf and its fallback fill it, loop carries it
// with the connection, flags/api reads it into the flag context and the
// /signal answer.
//
// Allocation: Reset, the Append* encoders and the property lookups allocate
// nothing. Concurrency: a Signal belongs to one connection; it is filled
// before the connection's first request is handled and read-only after.
package connsig

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

// MaxOptions bounds the TCP option kinds recorded from the SYN.
const MaxOptions = 16

// Signal is one connection's signal. Times are kernel nanoseconds
// (CLOCK_MONOTONIC for eBPF, wall clock for the fallback: compare only
// within one Signal); durations are nanoseconds; zero means unknown.
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
	// Options are the SYN's TCP option kinds in order (NumOptions of them).
	Options    [MaxOptions]uint8
	NumOptions uint8

	// TimingSource is where the handshake times and RTT figures came from;
	// SYNSource where the SYN headers came from.
	TimingSource, SYNSource Source
}

// Reset clears s for reuse.
func (s *Signal) Reset() { *s = Signal{WScale: -1} }

// Capturer fills a connection's Signal from its socket right after accept.
// ebpf provides the eBPF implementation and the getsockopt fallback; cmd
// hands one to loop. Capture must not block and must not allocate.
type Capturer interface {
	Capture(fd int, s *Signal) error
}

// Carrier is implemented by connections that carry a Signal (the loop's
// connections, and the fallback listener's); request handlers find the
// signal through it.
type Carrier interface {
	Signal() *Signal
}
