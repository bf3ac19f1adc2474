//go:build linux

package tcpsig

import (
	"errors"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/brink-edge/brink/connsig"
)

// Fallback captures without eBPF: TCP_SAVE_SYN on the listener, then
// TCP_SAVED_SYN (the SYN's IP and TCP headers, which the kernel frees on
// that read) and TCP_INFO on the accepted socket. It fills the SYN fields
// (not with syncookies: the kernel keeps no SYN then) and RTT, RTTVar,
// MinRTT, MSS and Retransmits; it knows no kernel times, so SYNTime,
// SYNACKTime, ACKTime and HandshakeRTT stay 0 (see the connsig package doc
// for what tcpi_rtt is right after accept). The zero value is ready; it is
// safe for concurrent use and allocates nothing.
type Fallback struct{}

var (
	_ connsig.Capturer         = Fallback{}
	_ connsig.ListenerPreparer = Fallback{}
)

// synBufSize holds any IPv4 SYN (60 + 60) and an IPv6 one with 136 bytes of
// extension headers; longer ones are not captured.
const synBufSize = 256

// Mode returns connsig.SourceFallback.
func (Fallback) Mode() connsig.Source { return connsig.SourceFallback }

// Close does nothing; it lets Fallback stand where a Capture would.
func (Fallback) Close() error { return nil }

// PrepareListener sets TCP_SAVE_SYN on the listening socket fd, so that the
// kernel keeps each SYN's headers for Capture. Never TCP_DEFER_ACCEPT: it
// would fold the client's first-data delay into the handshake RTT sample.
func (Fallback) PrepareListener(fd int) error {
	return unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_SAVE_SYN, 1)
}

// Capture fills s (after s.Reset) from the accepted socket fd. A missing
// saved SYN (listener without TCP_SAVE_SYN, syncookies, or read already) is
// no error: SYNSource stays none. It returns TCP_INFO's errno (an
// unix.Errno, e.g. EBADF) when fd is no TCP socket.
func (Fallback) Capture(fd int, s *connsig.Signal) error {
	s.Reset()
	var syn [synBufSize]byte
	if n, err := getsockopt(fd, unix.TCP_SAVED_SYN, unsafe.Pointer(&syn[0]), len(syn)); err == nil && n > 0 {
		if err := connsig.ParseSYN(syn[:n], s); err == nil || errors.Is(err, connsig.ErrBadOption) {
			s.SYNSource = connsig.SourceFallback
		}
	}
	var ti unix.TCPInfo
	if _, err := getsockopt(fd, unix.TCP_INFO, unsafe.Pointer(&ti), tcpInfoLen); err != nil {
		observe(s)
		return err
	}
	s.RTT, s.RTTVar, s.MinRTT = ti.Rtt, ti.Rttvar, ti.Min_rtt
	if s.MinRTT == noMinRTT {
		s.MinRTT = 0
	}
	s.MSS, s.Retransmits = ti.Snd_mss, ti.Total_retrans
	s.TimingSource = connsig.SourceFallback
	observe(s)
	return nil
}

// tcpInfoLen asks TCP_INFO for the fields up to tcpi_min_rtt, the last one
// Capture reads, so the kernel copies out no more than that (older kernels
// fill less; their missing fields stay 0).
const tcpInfoLen = int(unsafe.Offsetof(unix.TCPInfo{}.Min_rtt) + unsafe.Sizeof(unix.TCPInfo{}.Min_rtt))

// getsockopt is getsockopt(2) at level IPPROTO_TCP into caller memory,
// without x/sys's allocating wrappers. It returns the length written.
//
// It is a raw system call, without the scheduler's syscall bookkeeping
// (entersyscall/exitsyscall, about 0.19 µs a call here: BenchmarkGetsockopt
// SO_TYPE-raw against SO_TYPE-syscall): TCP_SAVED_SYN and
// TCP_INFO never block. They only take the socket's lock, which nothing
// else holds for long (the loop that owns the fd is the only caller, and a
// softirq holds it for the length of one packet).
func getsockopt(fd, opt int, p unsafe.Pointer, size int) (int, error) {
	l := uint32(size)
	_, _, e := unix.RawSyscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.IPPROTO_TCP, uintptr(opt),
		uintptr(p), uintptr(unsafe.Pointer(&l)), 0)
	if e != 0 {
		return 0, e
	}
	return int(l), nil
}
