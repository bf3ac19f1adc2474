//go:build !race

package tlsterm

import (
	"context"
	"net"
	"testing"

	"github.com/brink-edge/brink/loop"
	"github.com/brink-edge/brink/proto/tlshello"
)

// TestOnDataAllocs: waiting for the rest of a hello, routing it, and
// refusing an unknown name with an alert allocate nothing on the loop;
// the decision both accept modes share allocates nothing either.
func TestOnDataAllocs(t *testing.T) {
	cfg := baseConfig()
	dir := t.TempDir()
	c, k := leaf(t, 1, false, "engine.test")
	cfg.Certs = []CertPair{writePair(t, dir, "p", c, k)}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	hello := captureHello(t, clientConfig("nobody.test", 0))
	known := captureHello(t, clientConfig("engine.test", 0, "h2", "http/1.1"))
	lc := loop.NewOffline(&net.TCPAddr{}, &net.TCPAddr{})
	var h tlshello.Hello
	if err := h.Parse(known); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		fn   func()
	}{
		{"need more", func() { s.OnData(lc, hello[:len(hello)/2]) }},
		{"unknown name alert", func() { s.OnData(lc, hello); lc.ResetOutput() }},
		{"decide admits (both accept modes)", func() {
			if v := s.decide(&h, known, lc); v.tg == nil {
				t.Fatalf("decide refused engine.test: %+v", v)
			}
			s.pending.Add(-1) // the handshake slot decide reserved
		}},
		{"route lookup", func() {
			if s.table.lookup(&h) == nil {
				t.Fatal("no route for engine.test")
			}
		}},
	}
	for _, tt := range tests {
		tt.fn()
		if n := testing.AllocsPerRun(100, tt.fn); n != 0 {
			t.Errorf("%s: %v allocations, want 0", tt.name, n)
		}
	}
}
