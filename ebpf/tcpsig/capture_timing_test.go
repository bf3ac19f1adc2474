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
