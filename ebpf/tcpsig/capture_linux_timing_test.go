//go:build linux

package tcpsig

import (
	"testing"
)

// BenchmarkCapture measures one Capture on an accepted loopback socket: the
// eBPF map lookup, or the fallback's two getsockopt calls (the saved SYN is
// freed by the first, so later iterations read an empty one).
func BenchmarkCapture(b *testing.B) {
	b.Run("fallback", func(b *testing.B) {
		var fb Fallback
		ln := listen(b, "tcp4", "127.0.0.1:0", fb.PrepareListener)
		h := connect(b, ln, "tcp4", ln.Addr().String())
		b.ReportAllocs()
		for b.Loop() {
			if err := fb.Capture(h.serverFD, &Sink); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ebpf", func(b *testing.B) {
		c := openCapture(b)
		ln := listen(b, "tcp4", "127.0.0.1:0", c.PrepareListener)
		h := connect(b, ln, "tcp4", ln.Addr().String())
		b.ReportAllocs()
		for b.Loop() {
			if err := c.Capture(h.serverFD, &Sink); err != nil {
				b.Fatal(err)
			}
		}
	})
}
