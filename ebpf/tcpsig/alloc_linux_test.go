//go:build !race

package tcpsig

import (
	"net/netip"
	"testing"

	"github.com/brink-edge/brink/connsig"
)

func TestFallbackCaptureAllocs(t *testing.T) {
	var fb Fallback
	ln := listen(t, "tcp4", "127.0.0.1:0", fb.PrepareListener)
	h := connect(t, ln, "tcp4", ln.Addr().String())
	var s connsig.Signal
	// The first run reads (and frees) the saved SYN; the others find none.
	if n := testing.AllocsPerRun(100, func() { _ = fb.Capture(h.serverFD, &s) }); n != 0 {
		t.Fatalf("expected 0 allocations, got %f", n)
	}
}

func TestCaptureAllocs(t *testing.T) {
	c := openCapture(t)
	ln := listen(t, "tcp4", "127.0.0.1:0", c.PrepareListener)
	h := connect(t, ln, "tcp4", ln.Addr().String())
	var s connsig.Signal
	if n := testing.AllocsPerRun(100, func() { _ = c.Capture(h.serverFD, &s) }); n != 0 {
		t.Fatalf("expected 0 allocations, got %f", n)
	}
	if s.TimingSource != connsig.SourceEBPF {
		t.Fatalf("measured the wrong path: TimingSource %v", s.TimingSource)
	}
	// The per-connection fallback path (no record for a listener fd).
	lfd := sysFD(t, ln)
	if n := testing.AllocsPerRun(100, func() { _ = c.Capture(lfd, &s) }); n != 0 {
		t.Fatalf("fallback path: expected 0 allocations, got %f", n)
	}
}

func TestCaptureAddrAllocs(t *testing.T) {
	c := openCapture(t)
	ln := listen(t, "tcp4", "127.0.0.1:0", c.PrepareListener)
	h := connect(t, ln, "tcp4", ln.Addr().String())
	local, remote := addrPorts(ln, h.server)
	var s connsig.Signal
	before := lookups()
	if n := testing.AllocsPerRun(100, func() { _ = c.CaptureAddr(h.serverFD, local, remote, &s) }); n != 0 {
		t.Fatalf("expected 0 allocations, got %f", n)
	}
	if d := lookups().since(before); d.addr != 101 || s.TimingSource != connsig.SourceEBPF {
		t.Fatalf("measured the wrong path: lookups %+v, TimingSource %v", d, s.TimingSource)
	}
	// A mismatch: the SO_COOKIE path behind it.
	other := netip.AddrPortFrom(remote.Addr(), remote.Port()+1)
	if n := testing.AllocsPerRun(100, func() { _ = c.CaptureAddr(h.serverFD, local, other, &s) }); n != 0 {
		t.Fatalf("mismatch path: expected 0 allocations, got %f", n)
	}
}
