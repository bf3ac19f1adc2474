package tcpsig

import (
	"net"
	"testing"

	"github.com/brink-edge/brink/connsig"
)

// TestListenerCarriesSignal: connections accepted through the wrapper carry
// the fallback's signal (TCP_INFO is always there on Linux loopback).
func TestListenerCarriesSignal(t *testing.T) {
	lc := net.ListenConfig{}
	lc.SetMultipathTCP(false)
	ln, err := lc.Listen(t.Context(), "tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	wl, err := NewListener(ln, Fallback{})
	if err != nil {
		skipIfNotSupported(t, err)
		t.Fatal(err)
	}
	go func() {
		c, err := net.Dial("tcp4", ln.Addr().String())
		if err == nil {
			defer c.Close()
			_, _ = c.Write([]byte("x"))
		}
	}()
	conn, err := wl.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	carrier, ok := conn.(connsig.Carrier)
	if !ok {
		t.Fatal("accepted connection does not carry a signal")
	}
	s := carrier.Signal()
	if s.TimingSource != connsig.SourceFallback || s.RTT == 0 {
		t.Errorf("signal = %+v, want TCP_INFO figures from the fallback", *s)
	}
	if s.SYNSource == connsig.SourceFallback && s.TTL != 64 {
		t.Errorf("SYN TTL = %d, want 64 on loopback", s.TTL)
	}
}
