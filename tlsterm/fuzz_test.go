package tlsterm

import (
	"bytes"
	"net"
	"os"
	"testing"

	"github.com/brink-edge/brink/loop"
	"github.com/brink-edge/brink/proto/tlshello"
)

// FuzzOnData feeds arbitrary first bytes to the loop side of a Server: it
// must answer with nothing, a 400 or one alert record, never panic, and
// never take a connection it cannot route.
func FuzzOnData(f *testing.F) {
	// Built without New: no certificate to generate, which is slow under
	// the fuzzer's instrumentation, and OnData never reaches a handshake
	// (an offline Conn cannot be handed off).
	cfg := baseConfig().withDefaults()
	cfg.Routes = append(cfg.Routes, Route{Host: "pass.test", Passthrough: "127.0.0.1:1"})
	tab, err := buildTable(&cfg)
	if err != nil {
		f.Fatal(err)
	}
	s := &Server{cfg: cfg, table: tab, jobs: make(chan *Conn, 1), conns: map[*Conn]struct{}{}}
	s.hellos.New = func() any { return new(tlshello.Hello) }
	for _, name := range []string{"curl", "go", "openssl"} {
		h, err := os.ReadFile("../proto/tlshello/testdata/" + name + ".hello")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(h)
		f.Add(h[:len(h)/2])
	}
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Add([]byte{0x16, 3, 1, 0x40, 0, 1, 0, 0x4e, 0x20})
	f.Add([]byte{})
	lc := loop.NewOffline(&net.TCPAddr{}, &net.TCPAddr{})
	f.Fuzz(func(t *testing.T, in []byte) {
		lc.ResetOutput()
		n, act := s.OnData(lc, in)
		if n != 0 {
			t.Fatalf("consumed %d bytes, want 0 (the hello is replayed)", n)
		}
		out := lc.Output()
		switch {
		case len(out) == 0:
		case bytes.HasPrefix(out, []byte("HTTP/1.1 400 ")):
		case len(out) == 7 && out[0] == 0x15:
		default:
			t.Fatalf("answer %q", out)
		}
		if len(out) > 0 && act != loop.Close {
			t.Fatalf("answered %q but left the connection open", out)
		}
	})
}

func FuzzHostOnly(f *testing.F) {
	for _, s := range []string{"engine.test", "a:80", "[::1]:443", "[x", "a/b", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		h := hostOnly(in)
		if h == nil {
			return
		}
		if !bytes.HasPrefix(in, h) || bytes.ContainsAny(h, "/?#@ \r\n\\") {
			t.Fatalf("hostOnly(%q) = %q", in, h)
		}
	})
}
