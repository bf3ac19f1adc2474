//go:build !race

package tcpsig

import (
	"testing"

	"github.com/brink-edge/brink/connsig"
)

func TestDecodeRecordAllocs(t *testing.T) {
	b := establishedRecord().encode()
	var s connsig.Signal
	if n := testing.AllocsPerRun(100, func() { _ = decodeRecord(b, &s) }); n != 0 {
		t.Fatalf("expected 0 allocations, got %f", n)
	}
}
