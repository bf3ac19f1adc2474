package connsig

import (
	"net"
	"net/netip"
	"testing"
)

// plainCapturer records Capture calls.
type plainCapturer struct{ fds []int }

func (p *plainCapturer) Capture(fd int, s *Signal) error {
	p.fds = append(p.fds, fd)
	s.TTL = 1
	return nil
}

// byAddr records CaptureAddr calls; Capture marks the fallback.
type byAddr struct {
	plainCapturer
	local, remote netip.AddrPort
	calls         int
}

func (b *byAddr) CaptureAddr(fd int, local, remote netip.AddrPort, s *Signal) error {
	b.calls++
	b.local, b.remote = local, remote
	s.TTL = 2
	return nil
}

func TestCaptureConn(t *testing.T) {
	local := &net.TCPAddr{IP: net.IPv4zero, Port: 3063}
	remote := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 9), Port: 51000}

	var s Signal
	b := &byAddr{}
	if err := CaptureConn(b, 7, local, remote, &s); err != nil || b.calls != 1 || s.TTL != 2 {
		t.Fatalf("AddrCapturer with TCP addresses: err %v, CaptureAddr calls %d, TTL %d", err, b.calls, s.TTL)
	}
	if b.local != local.AddrPort() || b.remote != remote.AddrPort() {
		t.Errorf("CaptureAddr got %v <- %v, want %v <- %v", b.local, b.remote, local.AddrPort(), remote.AddrPort())
	}
	if err := CaptureConn(b, 8, local, &net.UnixAddr{Name: "x"}, &s); err != nil || b.calls != 1 || len(b.fds) != 1 || b.fds[0] != 8 {
		t.Errorf("AddrCapturer without a TCP remote: CaptureAddr calls %d, Capture fds %v; want Capture(8)", b.calls, b.fds)
	}
	p := &plainCapturer{}
	if err := CaptureConn(p, 9, local, remote, &s); err != nil || len(p.fds) != 1 || s.TTL != 1 {
		t.Errorf("plain Capturer: fds %v, TTL %d; want Capture(9)", p.fds, s.TTL)
	}
}

func TestCaptureConnAllocs(t *testing.T) {
	var c Capturer = &byAddr{}
	var local, remote net.Addr = &net.TCPAddr{Port: 1}, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 2}
	var s Signal
	if n := testing.AllocsPerRun(100, func() { _ = CaptureConn(c, 3, local, remote, &s) }); n != 0 {
		t.Errorf("CaptureConn: %v allocations, want 0", n)
	}
}
