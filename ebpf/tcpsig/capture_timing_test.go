package tcpsig

import (
	"testing"

	"github.com/brink-edge/brink/connsig"
)

// Sink keeps benchmark results alive.
var Sink connsig.Signal

func BenchmarkDecodeRecord(b *testing.B) {
	rec := establishedRecord().encode()
	b.ReportAllocs()
	b.SetBytes(int64(len(rec)))
	for b.Loop() {
		if err := decodeRecord(rec, &Sink); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkObserve is the metrics part of every Capture: the source counter
// and the RTT histograms (eBPF fills both RTTs, the fallback one).
func BenchmarkObserve(b *testing.B) {
	s := Sink
	s.Reset()
	s.TimingSource, s.SYNSource = connsig.SourceEBPF, connsig.SourceEBPF
	s.RTT, s.HandshakeRTT = 21, 20_500
	b.ReportAllocs()
	for b.Loop() {
		observe(&s)
	}
}
