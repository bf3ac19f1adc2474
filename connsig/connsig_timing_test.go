package connsig

import "testing"

// Sink keeps benchmark results alive.
var Sink []byte

func BenchmarkParseSYN(b *testing.B) {
	for _, smp := range synSamples {
		b.Run(smp.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(smp.pkt)))
			var s Signal
			for b.Loop() {
				if err := ParseSYN(smp.pkt, &s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAppendJSON(b *testing.B) {
	for _, c := range []struct {
		name string
		s    *Signal
	}{{"tcp", loopbackSignal(b)}, {"tls", tlsSignal(b)}} {
		b.Run(c.name, func(b *testing.B) {
			buf := c.s.AppendJSON(nil)
			b.ReportAllocs()
			b.SetBytes(int64(len(buf)))
			for b.Loop() {
				buf = c.s.AppendJSON(buf[:0])
			}
			Sink = buf
		})
	}
}

func BenchmarkAppendFingerprint(b *testing.B) {
	s := loopbackSignal(b)
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		buf = s.AppendFingerprint(buf[:0])
	}
	Sink = buf
}

func BenchmarkAppendValue(b *testing.B) {
	s := tlsSignal(b)
	buf := make([]byte, 0, 64)
	for _, name := range []string{PropTCPRTTMs, PropSYNTTL, PropSYNFingerprint, PropTLSJA4, PropSNI} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				buf, _ = s.AppendValue(buf[:0], name)
			}
			Sink = buf
		})
	}
}
