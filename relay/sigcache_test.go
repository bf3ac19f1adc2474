package relay

import (
	"sync"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/brink-edge/brink/connsig"
)

// sentSignal is the signal header sigCache.set puts on a fresh request.
func sentSignal(c sigCache, s *connsig.Signal, st *fwdState) string {
	var h fasthttp.RequestHeader
	st.buf = c.set(&h, s, st.buf, st)
	return string(h.Peek(DefaultSignalHeader))
}

func wantSignal(s *connsig.Signal) string {
	v, _ := AppendSignalHeader(nil, nil, s)
	return string(v)
}

// The cached header is always the one AppendSignalHeader makes for the
// signal as it is now: repeated, changed in place, and for many
// connections sharing slots.
func TestSigCache(t *testing.T) {
	c := newSigCache()
	st := &fwdState{}
	conns := make([]signalConn, 3*sigSlots) // more connections than slots
	for i := range conns {
		fillSignal(&conns[i].sig, uint32(i))
	}
	for round := range 3 {
		for i := range conns {
			s := &conns[i].sig
			if got, want := sentSignal(c, s, st), wantSignal(s); got != want {
				t.Fatalf("round %d, connection %d: header %q, want %q", round, i, got, want)
			}
		}
	}
	// A signal changed in place (or a connection object reused for a new
	// connection) is encoded afresh.
	s := &conns[7].sig
	first := sentSignal(c, s, st)
	s.RTT += 5
	s.TLS.SetServerName([]byte("changed.example"))
	if got := sentSignal(c, s, st); got == first || got != wantSignal(s) {
		t.Fatalf("after a change: header %q, want %q (not %q)", got, wantSignal(s), first)
	}
}

// Concurrent requests of different connections (some on the same slot)
// each get their own connection's header.
func TestSigCacheConcurrent(t *testing.T) {
	c := newSigCache()
	conns := make([]signalConn, 2*sigSlots)
	want := make([]string, len(conns))
	for i := range conns {
		fillSignal(&conns[i].sig, uint32(i))
		want[i] = wantSignal(&conns[i].sig)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := range 8 {
		wg.Go(func() {
			st := &fwdState{}
			for n := range 2000 {
				i := (n*7 + g*31) % len(conns)
				if got := sentSignal(c, &conns[i].sig, st); got != want[i] {
					errs <- got
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for got := range errs {
		t.Errorf("a connection got another's header: %q", got)
	}
}
