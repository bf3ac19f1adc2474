//go:build !race

package connsig

import "testing"

func TestAllocs(t *testing.T) {
	s := loopbackSignal(t)
	ts := tlsSignal(t)
	buf := make([]byte, 0, 1024)
	tests := []struct {
		name string
		fn   func()
	}{
		{"ParseSYN", func() {
			for _, smp := range synSamples {
				_ = ParseSYN(smp.pkt, s)
			}
		}},
		{"ParseSYN error", func() { _ = ParseSYN(synSamples[0].pkt[:30], s) }},
		{"Reset", func() { s.Reset(); _ = ParseSYN(synSamples[0].pkt, s) }},
		{"AppendJSON", func() { buf = s.AppendJSON(buf[:0]) }},
		{"AppendJSON TLS", func() { buf = ts.AppendJSON(buf[:0]) }},
		{"AppendValue TLS", func() {
			for _, name := range PropertyNames {
				buf, _ = ts.AppendValue(buf[:0], name)
			}
		}},
		{"TLS setters", func() { ts.TLS.SetServerName(ts.TLS.ServerName()); ts.TLS.SetProtocol(ts.TLS.Protocol()) }},
		{"AppendFingerprint", func() { buf = s.AppendFingerprint(buf[:0]) }},
		{"AppendValue", func() {
			for _, name := range PropertyNames {
				buf, _ = s.AppendValue(buf[:0], name)
			}
		}},
		{"CaptureSource", func() { _ = s.CaptureSource().String() }},
	}
	for _, tt := range tests {
		if n := testing.AllocsPerRun(100, tt.fn); n != 0 {
			t.Errorf("%s: expected 0 allocations, got %f", tt.name, n)
		}
	}
}
