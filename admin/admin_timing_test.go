package admin

import (
	"crypto/sha256"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkScrape is one /metrics answer with the bearer check, rendered
// into a discarding writer: the cost a Prometheus scrape puts on brink.
func BenchmarkScrape(b *testing.B) {
	h := newHandler("tok", false)
	req := httptest.NewRequest("GET", "/metrics", nil)
	req.Header.Set("Authorization", "Bearer tok")
	w := &discard{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, req)
	}
}

// BenchmarkAuthorized is the constant-time token check alone.
func BenchmarkAuthorized(b *testing.B) {
	want := sha256.Sum256([]byte("a-32-byte-long-metrics-token-xyz"))
	b.ReportAllocs()
	for b.Loop() {
		if !authorized("Bearer a-32-byte-long-metrics-token-xyz", &want) {
			b.Fatal("refused")
		}
	}
}

type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return io.Discard.Write(p) }
func (d *discard) WriteHeader(int)             {}
