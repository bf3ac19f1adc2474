package tlsterm

import (
	"crypto/tls"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/brink-edge/brink/loop"
)

// handshakeSerial does a full handshake for sni and returns the serial of
// the certificate served.
func handshakeSerial(t testing.TB, addr, sni string) (int64, error) {
	c, err := tls.Dial("tcp", addr, clientConfig(sni, 0))
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber.Int64(), nil
}

// renameIn writes a pair next to the live files and renames it into place,
// certificate first, as certificate tools do.
func renameIn(t testing.TB, live CertPair, certPEM, keyPEM []byte) {
	t.Helper()
	for _, f := range []struct {
		path string
		b    []byte
	}{{live.CertFile, certPEM}, {live.KeyFile, keyPEM}} {
		if err := os.WriteFile(f.path+".new", f.b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(f.path+".new", f.path); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCertsBySNI(t *testing.T) { eachMode(t, testCertsBySNI) }

func testCertsBySNI(t *testing.T, m mode) {
	dir := t.TempDir()
	c1, k1 := leaf(t, 100, false, "engine.test", "*.t.engine.test")
	c2, k2 := leaf(t, 200, true, "other.test", "*.example.test")
	cfg := baseConfig()
	cfg.Certs = []CertPair{writePair(t, dir, "a", c1, k1), writePair(t, dir, "b", c2, k2)}
	cfg.Routes = append(cfg.Routes, Route{Host: "*.example.test", Service: "other"})
	ts := m.start(t, cfg, loop.Config{})
	for sni, want := range map[string]int64{"engine.test": 100, "x.t.engine.test": 100, "other.test": 200, "b.example.test": 200} {
		if got, err := handshakeSerial(t, ts.addr, sni); err != nil || got != want {
			t.Errorf("%s: serial %d (%v), want %d", sni, got, err, want)
		}
	}
}

// TestCertReloadUnderLoad renames a new pair into place while 4 clients
// handshake in a loop: no handshake fails, and new connections get the new
// certificate.
func TestCertReloadUnderLoad(t *testing.T) { eachMode(t, testCertReloadUnderLoad) }

func testCertReloadUnderLoad(t *testing.T, m mode) {
	dir := t.TempDir()
	c, k := leaf(t, 100, false, "engine.test")
	live := writePair(t, dir, "live", c, k)
	cfg := baseConfig()
	cfg.Certs = []CertPair{live}
	cfg.Routes = nil
	ts := m.start(t, cfg, loop.Config{})

	var ok, failed, newSerial atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := 0; i < 2000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				s, err := handshakeSerial(t, ts.addr, "engine.test")
				switch {
				case err != nil:
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
				case s == 200:
					newSerial.Add(1)
					ok.Add(1)
				default:
					ok.Add(1)
				}
			}
		})
	}
	time.Sleep(200 * time.Millisecond)
	nc, nk := leaf(t, 200, false, "engine.test")
	renameIn(t, live, nc, nk)
	// Reload checks run at most once a second; give it three, bounded.
	deadline := time.Now().Add(3 * time.Second)
	for newSerial.Load() < 20 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d of %d handshakes failed during the reload, first: %v", failed.Load(), failed.Load()+ok.Load(), firstErr.Load())
	}
	if newSerial.Load() == 0 {
		t.Fatalf("no handshake got the new certificate (%d handshakes)", ok.Load())
	}
	if got, err := handshakeSerial(t, ts.addr, "engine.test"); err != nil || got != 200 {
		t.Fatalf("after the reload: serial %d (%v), want 200", got, err)
	}
	t.Logf("%d handshakes, %d with the new certificate", ok.Load(), newSerial.Load())
}

// TestCertReloadBroken: a half-written key and a mismatched pair keep the
// old certificate and are logged once each; a good pair is then taken.
func TestCertReloadBroken(t *testing.T) { eachMode(t, testCertReloadBroken) }

func testCertReloadBroken(t *testing.T, m mode) {
	dir := t.TempDir()
	c, k := leaf(t, 100, false, "engine.test")
	live := writePair(t, dir, "live", c, k)
	cfg := baseConfig()
	cfg.Certs = []CertPair{live}
	cfg.Routes = nil
	ts := m.start(t, cfg, loop.Config{})
	ps := ts.Certs().pairs[0]
	check := func(want int64) {
		t.Helper()
		ps.nextCheck.Store(0) // a check is due now
		if got, err := handshakeSerial(t, ts.addr, "engine.test"); err != nil || got != want {
			t.Fatalf("serial %d (%v), want %d", got, err, want)
		}
	}
	failures := func() int { return strings.Count(ts.logs.String(), "certificate reload failed") }

	check(100)
	nc, nk := leaf(t, 300, false, "engine.test")
	renameIn(t, live, nc, nk[:len(nk)/2]) // half-written key
	check(100)
	check(100)
	if n := failures(); n != 1 {
		t.Fatalf("%d reload failures logged for one broken pair, want 1:\n%s", n, ts.logs.String())
	}
	renameIn(t, live, nc, k) // the new certificate with the old key
	check(100)
	check(100)
	if n := failures(); n != 2 || !strings.Contains(ts.logs.String(), "private key does not match public key") {
		t.Fatalf("mismatched pair: %d failures logged, want 2 and the reason:\n%s", n, ts.logs.String())
	}
	renameIn(t, live, nc, nk)
	check(300)
	if !strings.Contains(ts.logs.String(), "certificate reloaded") {
		t.Fatalf("reload not logged:\n%s", ts.logs.String())
	}
}
