package http1

import "testing"

// Sink keeps benchmark results alive.
var Sink int

// BenchmarkOnData is one request through OnData (parse, the flag API,
// serialise) on an offline connection: the CPU cost per request without
// the network.
func BenchmarkOnData(b *testing.B) {
	h := apiHandler(b, 200)
	o := newOffline(b, h.Handle)
	features := apiRequest("/api/client/features", clientToken, "")
	etag := string(readResponse(b, o.do(b, features)).Header.Peek("ETag"))
	for _, tc := range []struct {
		name string
		reqs [][]byte
	}{
		{"frontend", frontendURIs(64)},
		{"features304", [][]byte{apiRequest("/api/client/features", clientToken, etag)}},
	} {
		b.Run(tc.name+"/http1", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(tc.reqs[0])))
			i := 0
			for b.Loop() {
				Sink += len(o.do(b, tc.reqs[i%len(tc.reqs)]))
				i++
			}
		})
	}
}
