package e2e

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"html"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// TestRelayBrowser: headless Chromium loads https://octet.test:PORT/
// through brink relay (octet.test mapped to 127.0.0.1, brink's test
// certificate trusted by its SPKI hash). The recording upstream serves the
// page and its fetch, which tries to forge X-Brink-Signal: the upstream
// must see brink's signal of Chromium's TLS 1.3 connection, with JA4
// "t13d…" and the RTT fields set, and never the forged value.
func TestRelayBrowser(t *testing.T) {
	t.Parallel()
	chromium := needChromium(t)
	s := newRelaySetup(t)
	page, err := os.ReadFile(filepath.Join(repoRoot, "e2e", "browser", "relay.html"))
	if err != nil {
		t.Fatal(err)
	}
	s.up.setPage(page)
	port := freePorts(t, 1)[0]
	s.startRelay(t, port)

	cert, err := x509.ParseCertificate(s.brinkCert.pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	spki := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	pageURL := "https://octet.test:" + strconv.Itoa(port) + "/"
	dom := dumpDOM(t, chromium, pageURL, 60*time.Second,
		"--host-resolver-rules=MAP octet.test 127.0.0.1",
		"--ignore-certificate-errors-spki-list="+base64.StdEncoding.EncodeToString(spki[:]))

	m := regexp.MustCompile(`(?s)<pre id="result">(.*?)</pre>`).FindStringSubmatch(dom)
	if m == nil {
		t.Fatalf("no <pre id=\"result\"> in the dumped DOM:\n%s", tail(dom, 3000))
	}
	var res struct {
		Status  int    `json:"status"`
		Origin  string `json:"origin"`
		Failure string `json:"failure"`
		Echo    struct {
			Signals []string `json:"signals"`
			License string   `json:"license"`
		} `json:"echo"`
	}
	if err := json.Unmarshal([]byte(html.UnescapeString(m[1])), &res); err != nil {
		t.Fatalf("the page did not finish (result %q): %v", tail(m[1], 2000), err)
	}
	if res.Failure != "" || res.Status != 200 {
		t.Fatalf("page fetch: status %d, failure %q", res.Status, res.Failure)
	}
	if len(res.Echo.Signals) != 1 || res.Echo.Signals[0] == "v1 forged" {
		t.Errorf("the fetch reached the upstream with X-Brink-Signal %q; want brink's one only", res.Echo.Signals)
	}
	if res.Echo.License != relayLicense {
		t.Errorf("the upstream saw licence %q, want brink's", res.Echo.License)
	}

	reqs, _ := s.up.snapshot()
	var page1, fetch bool
	for _, r := range reqs {
		if r.method != "GET" || (r.uri != "/" && r.uri != "/api/echo") { // HEAD / is brink's own upstream probe
			continue
		}
		sigs := r.header.Values("X-Brink-Signal")
		if len(sigs) != 1 {
			t.Errorf("%s %s arrived with X-Brink-Signal %q; want brink's one", r.method, r.uri, sigs)
			continue
		}
		sig, err := decodeSignalHeader(sigs[0])
		if err != nil {
			t.Errorf("%s: %v", r.uri, err)
			continue
		}
		if len(sig.JA4) < 4 || sig.JA4[:4] != "t13d" {
			t.Errorf("%s: Chromium's ja4 %q, want prefix t13d", r.uri, sig.JA4)
		}
		if sig.SNI != "octet.test" || sig.TLSVersion != "1.3" || sig.TLSHandshakeUs <= 0 {
			t.Errorf("%s: sni %q tlsVersion %q tlsHandshakeUs %d", r.uri, sig.SNI, sig.TLSVersion, sig.TLSHandshakeUs)
		}
		checkRTT(t, "Chromium "+r.uri, sig)
		if v := r.header.Values("X-License-Key"); len(v) != 1 || v[0] != relayLicense {
			t.Errorf("%s: licence header %q", r.uri, v)
		}
		page1 = page1 || r.uri == "/"
		fetch = fetch || r.uri == "/api/echo"
		t.Logf("%s: ja4 %s tcpRttUs %d handshakeRttUs %d tlsHandshakeUs %d (%s timing)", r.uri, sig.JA4, sig.TCPRttUs, sig.HandshakeRttUs, sig.TLSHandshakeUs, sig.TimingSource)
	}
	if !page1 || !fetch {
		t.Errorf("the upstream saw page %v, fetch %v; want both", page1, fetch)
	}
}
