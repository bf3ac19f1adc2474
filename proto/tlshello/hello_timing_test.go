package tlshello

import (
	"testing"

	"github.com/brink-edge/brink/connsig"
)

// Sink keeps benchmark results alive.
var Sink []byte

// benchInputs are the committed captures and the example split into
// 64-byte records.
func benchInputs(b *testing.B) []struct {
	name string
	in   []byte
} {
	hellos := testdataHellos(b)
	return []struct {
		name string
		in   []byte
	}{
		{"curl", hellos["curl.hello"]},
		{"openssl", hellos["openssl.hello"]},
		{"go", hellos["go.hello"]},
		{"records64", records(exampleSpec().message(), 64)},
	}
}

func BenchmarkParse(b *testing.B) {
	for _, bi := range benchInputs(b) {
		b.Run(bi.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bi.in)))
			var h Hello
			for b.Loop() {
				if err := h.Parse(bi.in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkParseNeedMore: the cost of a Parse call that finds the hello
// incomplete (the last byte missing).
func BenchmarkParseNeedMore(b *testing.B) {
	in := benchInputs(b)[0].in
	in = in[:len(in)-1]
	b.ReportAllocs()
	var h Hello
	for b.Loop() {
		if err := h.Parse(in); err != ErrNeedMore {
			b.Fatal(err)
		}
	}
}

func BenchmarkJA4(b *testing.B) {
	for _, bi := range benchInputs(b) {
		b.Run(bi.name, func(b *testing.B) {
			var h Hello
			if err := h.Parse(bi.in); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			buf := make([]byte, 0, 64)
			for b.Loop() {
				buf = h.AppendJA4(buf[:0])
			}
			Sink = buf
		})
	}
}

func BenchmarkJA3(b *testing.B) {
	var h Hello
	if err := h.Parse(benchInputs(b)[0].in); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	buf := make([]byte, 0, 64)
	for b.Loop() {
		buf = h.AppendJA3(buf[:0])
	}
	Sink = buf
}

// BenchmarkFillSignal: Parse plus both fingerprints into a Signal, what a
// terminating listener pays per connection.
func BenchmarkFillSignal(b *testing.B) {
	in := benchInputs(b)[0].in
	var h Hello
	var s connsig.TLSSignal
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if err := h.Parse(in); err != nil {
			b.Fatal(err)
		}
		h.FillSignal(&s)
	}
}
