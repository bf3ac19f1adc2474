//go:build !race

package tlshello

import (
	"os"
	"testing"

	"github.com/brink-edge/brink/connsig"
)

func TestAllocs(t *testing.T) {
	curl, err := os.ReadFile(curlTestdata)
	if err != nil {
		t.Fatal(err)
	}
	example := exampleSpec().bytes()
	split := records(exampleSpec().message(), 7)
	var h Hello
	var sig connsig.TLSSignal
	buf := make([]byte, 0, 512)
	tests := []struct {
		name string
		fn   func()
	}{
		{"Parse curl", func() { _ = h.Parse(curl) }},
		{"Parse example", func() { _ = h.Parse(example) }},
		{"Parse 7-byte records", func() { _ = h.Parse(split) }},
		{"Parse incomplete", func() { _ = h.Parse(split[:len(split)-1]) }},
		{"Parse malformed", func() { _ = h.Parse(curl[:len(curl)-1]) }},
		{"Parse not TLS", func() { _ = h.Parse([]byte("GET / HTTP/1.1\r\n")) }},
		{"AppendJA4", func() { _ = h.Parse(curl); buf = h.AppendJA4(buf[:0]) }},
		{"AppendJA3", func() { _ = h.Parse(curl); buf = h.AppendJA3(buf[:0]) }},
		{"AppendJA3String", func() { _ = h.Parse(curl); buf = h.AppendJA3String(buf[:0]) }},
		{"FillSignal", func() { _ = h.Parse(curl); h.FillSignal(&sig) }},
		{"accessors", func() { _ = h.Parse(curl); _ = h.ServerName(); _ = h.HasALPN("h2"); _ = h.MaxVersion() }},
	}
	for _, tt := range tests {
		tt.fn() // grow the Hello's storage once
		if n := testing.AllocsPerRun(100, tt.fn); n != 0 {
			t.Errorf("%s: expected 0 allocations, got %f", tt.name, n)
		}
	}
}
