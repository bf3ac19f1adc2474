package tlsterm

import (
	"crypto/tls"
	"strconv"
	"strings"
	"testing"

	"github.com/brink-edge/brink/loop"
)

func baseConfig() Config {
	return Config{
		EngineHost: "engine.test",
		Routes:     []Route{{Host: "other.test", Service: "other"}},
		Services:   map[string]Service{"api": echoService("api"), "other": echoService("other")},
	}
}

// TestGoClients: TLS 1.2 and 1.3, with and without SNI, offering h2 and
// http/1.1, through a real loop; the handler sees the whole signal.
func TestGoClients(t *testing.T) { eachMode(t, testGoClients) }

func testGoClients(t *testing.T, m mode) {
	ts := m.start(t, baseConfig(), loop.Config{})
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		for _, sni := range []string{"engine.test", ""} {
			t.Run(versionName(v)+"/sni="+sni, func(t *testing.T) {
				conf := clientConfig(sni, v, "h2", "http/1.1")
				if sni == "" {
					conf.ServerName = ""
					conf.InsecureSkipVerify = true // no name to verify
				}
				line, cs, err := get(t, ts.addr, conf, "")
				if err != nil {
					t.Fatal(err)
				}
				if cs.NegotiatedProtocol != "http/1.1" || cs.Version != v {
					t.Fatalf("negotiated %q %s, want http/1.1 %s", cs.NegotiatedProtocol, versionName(cs.Version), versionName(v))
				}
				a := answer(t, line)
				checkSignal(t, a, "api", sni, v)
				if got := a["cipher"]; got != strconv.FormatUint(uint64(cs.CipherSuite), 16) {
					t.Errorf("cipher %s in the signal, client negotiated %x", got, cs.CipherSuite)
				}
			})
		}
	}
}

func checkSignal(t *testing.T, a map[string]string, svc, sni string, v uint16) {
	t.Helper()
	if a["svc"] != svc || a["tls"] != "true" || a["sni"] != sni || a["alpn"] != "http/1.1" {
		t.Fatalf("answer %v: want svc=%s tls=true sni=%s alpn=http/1.1", a, svc, sni)
	}
	if len(strings.Trim(a["ja4"], "\x00")) != 36 || !strings.HasPrefix(a["ja4"], "t1") {
		t.Errorf("JA4 %q", a["ja4"])
	}
	if len(a["ja3"]) != 32 {
		t.Errorf("JA3 %q", a["ja3"])
	}
	if v != 0 && a["version"] != strconv.FormatUint(uint64(v), 16) {
		t.Errorf("version %s, want %x", a["version"], v)
	}
	if v != 0 && a["hello"] != strconv.FormatUint(uint64(v), 16) {
		t.Errorf("hello version %s, want the client's maximum %x", a["hello"], v)
	}
	if n, _ := strconv.ParseInt(a["latency"], 10, 64); n <= 0 {
		t.Errorf("handshake latency %s, want > 0", a["latency"])
	}
	h, _ := strconv.ParseInt(a["hellotime"], 10, 64)
	f, _ := strconv.ParseInt(a["flight"], 10, 64)
	if h <= 0 || f < h {
		t.Errorf("hello time %d, flight time %d: want 0 < hello <= flight", h, f)
	}
}
