package tlsterm

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/brink-edge/brink/connsig"
	"github.com/brink-edge/brink/ebpf/tcpsig"
	"github.com/brink-edge/brink/loop"
)

// signalService hands the signal its connection carries to the test.
type signalService struct{ got chan connsig.Signal }

func (s signalService) ServeConn(c net.Conn) error {
	s.got <- *c.(connsig.Carrier).Signal()
	_, err := c.Write([]byte{'x'})
	return err
}

// addrCapturer is a real capturer that also records the addresses
// CaptureAddr was called with.
type addrCapturer struct {
	tcpsig.Fallback
	mu            sync.Mutex
	local, remote netip.AddrPort
	calls         int
}

func (a *addrCapturer) CaptureAddr(fd int, local, remote netip.AddrPort, s *connsig.Signal) error {
	a.mu.Lock()
	a.local, a.remote = local, remote
	a.calls++
	a.mu.Unlock()
	return a.Capture(fd, s)
}

// TestNetpollSignal: a netpoll-mode connection reaches its Service with
// the TCP signal captured from the accepted socket (the SYN saved on a
// prepared listener, by address when the Capturer can) and the TLS signal
// (JA4, JA3, handshake latency), as the loop mode's connections do.
func TestNetpollSignal(t *testing.T) {
	tests := []struct {
		name string
		cp   func(t *testing.T) (connsig.Capturer, func(fd int) error)
		want connsig.Source
	}{
		{"fallback", func(*testing.T) (connsig.Capturer, func(fd int) error) {
			return tcpsig.Fallback{}, tcpsig.Fallback{}.PrepareListener
		}, connsig.SourceFallback},
		{"fallback by address", func(*testing.T) (connsig.Capturer, func(fd int) error) {
			ac := &addrCapturer{}
			return ac, ac.PrepareListener
		}, connsig.SourceFallback},
		{"ebpf", func(t *testing.T) (connsig.Capturer, func(fd int) error) {
			c, err := tcpsig.Open(tcpsig.Config{})
			if err != nil {
				t.Skipf("eBPF capture unavailable here: %v", err)
			}
			t.Cleanup(func() { _ = c.Close() })
			return c, c.PrepareListener
		}, connsig.SourceEBPF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cp, prepare := tt.cp(t)
			got := make(chan connsig.Signal, 1)
			cfg := baseConfig()
			cfg.Services["api"] = signalService{got}
			ts := mode(AcceptNetpoll).start(t, cfg, loop.Config{Capturer: cp, PrepareListener: prepare})
			c, err := tls.Dial("tcp", ts.addr, clientConfig("engine.test", tls.VersionTLS13))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			var sig connsig.Signal
			select {
			case sig = <-got:
			case <-time.After(5 * time.Second):
				t.Fatal("the service did not run")
			}
			if sig.SYNSource != tt.want || sig.IPVersion != 4 || sig.TTL != 64 || sig.SYNMSS == 0 || !sig.SACKPermitted {
				t.Errorf("TCP signal: SYN source %s, IP version %d, TTL %d, SYN MSS %d, SACK %v; want %s, 4, 64, > 0, true",
					sig.SYNSource, sig.IPVersion, sig.TTL, sig.SYNMSS, sig.SACKPermitted, tt.want)
			}
			if tt.want == connsig.SourceEBPF && (sig.SYNTime == 0 || sig.ACKTime < sig.SYNTime) {
				t.Errorf("eBPF times: SYN %d, ACK %d", sig.SYNTime, sig.ACKTime)
			}
			tl := &sig.TLS
			if ja4 := string(tl.JA4[:]); !strings.HasPrefix(ja4, "t13d") || len(strings.Trim(ja4, "\x00")) != connsig.JA4Len {
				t.Errorf("JA4 %q", ja4)
			}
			if tl.JA3 == ([connsig.JA3Len]byte{}) || string(tl.SNI[:tl.SNILen]) != "engine.test" || tl.Version != tls.VersionTLS13 {
				t.Errorf("TLS signal: JA3 %q, SNI %q, version %x", tl.JA3[:], tl.SNI[:tl.SNILen], tl.Version)
			}
			if tl.HandshakeLatency <= 0 || tl.HelloTime <= 0 || tl.ServerFlightTime < tl.HelloTime {
				t.Errorf("handshake latency %d, hello %d, flight %d: want > 0 and hello <= flight", tl.HandshakeLatency, tl.HelloTime, tl.ServerFlightTime)
			}
			if tt.want == connsig.SourceEBPF && sig.ACKTime > tl.HelloTime {
				t.Errorf("ACK at %d after the ClientHello at %d: the clocks differ", sig.ACKTime, tl.HelloTime)
			}
			if ac, ok := cp.(*addrCapturer); ok {
				ac.mu.Lock()
				defer ac.mu.Unlock()
				if ac.calls != 1 || ac.local.String() != ts.addr || ac.remote.String() != c.LocalAddr().String() {
					t.Errorf("CaptureAddr called %d times with %s, %s; want once with %s, %s", ac.calls, ac.local, ac.remote, ts.addr, c.LocalAddr())
				}
			}
		})
	}
}

// TestNetpollDrain: Run, once its context is done, stops accepting and
// closes the connections still sending their ClientHello, without
// waiting for their read-header timeout.
func TestNetpollDrain(t *testing.T) {
	cfg := baseConfig()
	c, k := leaf(t, 1, false, "engine.test")
	cfg.Certs = []CertPair{writePair(t, t.TempDir(), "p", c, k)}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewAcceptor(s, AcceptConfig{Addr: "127.0.0.1:0", ReadHeaderTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	nc, err := net.Dial("tcp", a.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := nc.Write(captureHello(t, clientConfig("engine.test", 0))[:10]); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for a.open.Load() != 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Run did not return with a ClientHello half sent")
	}
	_ = nc.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := nc.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("half-sent connection after the drain: %v, want it closed", err)
	}
	if _, err := net.DialTimeout("tcp", a.Addr(), time.Second); err == nil {
		t.Fatal("still accepting after the drain")
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

// TestNetpollReusePort: two Acceptors share a port with ReusePort, and
// without it the second cannot listen.
func TestNetpollReusePort(t *testing.T) {
	cfg := baseConfig()
	c, k := leaf(t, 1, false, "engine.test")
	cfg.Certs = []CertPair{writePair(t, t.TempDir(), "p", c, k)}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	a, err := NewAcceptor(s, AcceptConfig{Addr: "127.0.0.1:0", ReusePort: true})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if b, err := NewAcceptor(s, AcceptConfig{Addr: a.Addr()}); err == nil {
		_ = b.Close()
		t.Fatalf("a second listener on %s without ReusePort succeeded", a.Addr())
	}
	b, err := NewAcceptor(s, AcceptConfig{Addr: a.Addr(), ReusePort: true})
	if err != nil {
		t.Fatalf("a second listener on %s with ReusePort: %v", a.Addr(), err)
	}
	_ = b.Close()
}
