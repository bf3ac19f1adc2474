//go:build !race

package http1

import "testing"

// TestAllocsPerRequest proves a request through the loop glue and the
// real flag API allocates nothing.
func TestAllocsPerRequest(t *testing.T) {
	h := apiHandler(t, 200)
	o := newOffline(t, h.Handle)
	features := apiRequest("/api/client/features", clientToken, "")
	etag := string(readResponse(t, o.do(t, features)).Header.Peek("ETag"))
	notModified := apiRequest("/api/client/features", clientToken, etag)
	front := frontendURIs(64)
	var pipelined []byte
	for _, r := range front[:8] {
		pipelined = append(pipelined, r...)
	}
	tests := []struct {
		name   string
		reqs   [][]byte
		status int
	}{
		{"GET /api/frontend", front, 200},
		{"GET /api/client/features", [][]byte{features}, 200},
		{"GET /api/client/features 304", [][]byte{notModified}, 304},
		{"8 pipelined GET /api/frontend", [][]byte{pipelined}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			i := 0
			run := func() {
				o.do(t, tt.reqs[i%len(tt.reqs)])
				i++
			}
			for range 2 * len(tt.reqs) {
				run()
			}
			if got := readResponse(t, o.c.Output()).StatusCode(); got != tt.status {
				t.Fatalf("status %d, want %d", got, tt.status)
			}
			if n := minAllocs(run); n != 0 {
				t.Errorf("%v allocations per request, want 0", n)
			}
		})
	}
}

// minAllocs is the least of a few testing.AllocsPerRun measurements, so a
// GC cycle emptying a sync.Pool mid-run does not fail the test.
func minAllocs(f func()) float64 {
	least := -1.0
	for range 5 {
		if n := testing.AllocsPerRun(200, f); least < 0 || n < least {
			least = n
		}
		if least == 0 {
			break
		}
	}
	return least
}
