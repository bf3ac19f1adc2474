package connsig

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// loopbackSignal is an eBPF capture of a Linux loopback connection.
func loopbackSignal(t testing.TB) *Signal {
	t.Helper()
	var s Signal
	s.Reset()
	if err := ParseSYN(synSamples[0].pkt, &s); err != nil {
		t.Fatal(err)
	}
	s.SYNTime, s.SYNACKTime, s.ACKTime = 4420590332197, 4420590341715, 4420590364398
	s.HandshakeRTT = s.ACKTime - s.SYNACKTime
	s.RTT, s.RTTVar, s.MinRTT, s.MSS = 21, 10, 21, 32768
	s.TimingSource, s.SYNSource = SourceEBPF, SourceEBPF
	return &s
}

func TestAppendJSON(t *testing.T) {
	s := loopbackSignal(t)
	const want = `{"version":1,"synTimeNs":4420590332197,"synAckTimeNs":4420590341715,"ackTimeNs":4420590364398,` +
		`"handshakeRttUs":22,"tcpRttUs":21,"tcpRttVarUs":10,"tcpMinRttUs":21,"mss":32768,"retransmits":0,` +
		`"ipVersion":4,"ttl":64,"df":true,"window":65495,"wscale":10,"synMss":65495,"timestamps":true,` +
		`"sackPermitted":true,"synCookie":false,"options":[2,4,8,1,3],"fingerprint":"b1_4d_64_2.4.8.1.3_65495_10_m1",` +
		`"timingSource":"ebpf","synSource":"ebpf","tlsVersion":"","tlsHelloVersion":"","tlsCipher":"",` +
		`"tlsResumed":false,"tlsHandshakeUs":0,"sni":"","alpn":"","ja4":"","ja3":""}`
	if got := string(s.AppendJSON([]byte("x"))); got != "x"+want {
		t.Errorf("AppendJSON =\n%s\nwant\n%s", got, "x"+want)
	}

	var empty Signal
	empty.Reset()
	got := empty.AppendJSON(nil)
	var m map[string]any
	if err := json.Unmarshal(got, &m); err != nil {
		t.Fatalf("AppendJSON of an empty Signal is not JSON: %v\n%s", err, got)
	}
	if m["wscale"] != nil || m["fingerprint"] != "" || m["timingSource"] != "none" || len(m["options"].([]any)) != 0 ||
		m["ja4"] != "" || m["tlsVersion"] != "" || m["tlsResumed"] != false {
		t.Errorf("empty Signal JSON = %s", got)
	}

	s = tlsSignal(t)
	const wantTLS = `"timingSource":"ebpf","synSource":"ebpf","tlsVersion":"1.3","tlsHelloVersion":"1.3",` +
		`"tlsCipher":"TLS_AES_128_GCM_SHA256","tlsResumed":true,"tlsHandshakeUs":1234,"sni":"brink.test",` +
		`"alpn":"h2","ja4":"t13d3112h2_e8f1e7e78f70_b26ce05bbdd6","ja3":"0149f47eabf9a20d0893e2a44e5a6323"}`
	if got := string(s.AppendJSON(nil)); !strings.HasSuffix(got, wantTLS) || !json.Valid([]byte(got)) {
		t.Errorf("AppendJSON with TLS =\n%s\nwant suffix\n%s", got, wantTLS)
	}
}

// tlsSignal is loopbackSignal with a terminated TLS 1.3 connection from
// curl (the ClientHello of proto/tlshello/testdata/curl.hello).
func tlsSignal(t testing.TB) *Signal {
	t.Helper()
	s := loopbackSignal(t)
	s.TLS.HelloVersion, s.TLS.Version, s.TLS.CipherSuite, s.TLS.Resumed = 0x0304, 0x0304, 0x1301, true
	s.TLS.ServerFlightTime = 4420591000000
	s.TLS.ClientDataTime = s.TLS.ServerFlightTime + 1234567
	s.TLS.HandshakeLatency = s.TLS.ClientDataTime - s.TLS.ServerFlightTime
	if !s.TLS.SetServerName([]byte("brink.test")) || !s.TLS.SetProtocol([]byte("h2")) {
		t.Fatal("SetServerName or SetProtocol refused a short value")
	}
	copy(s.TLS.JA4[:], "t13d3112h2_e8f1e7e78f70_b26ce05bbdd6")
	copy(s.TLS.JA3[:], "0149f47eabf9a20d0893e2a44e5a6323")
	return s
}

// TestAppendJSONEscapes: client-chosen SNI and ALPN bytes cannot break the
// JSON, and read back byte for byte as code points.
func TestAppendJSONEscapes(t *testing.T) {
	var s Signal
	s.Reset()
	sni := []byte("a\"b\\c\x00\x1f\x7f\xff</script>")
	s.TLS.SetServerName(sni)
	s.TLS.SetProtocol([]byte("\"}"))
	got := s.AppendJSON(nil)
	var m map[string]any
	if err := json.Unmarshal(got, &m); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, got)
	}
	var back []byte
	for _, r := range m["sni"].(string) {
		back = append(back, byte(r))
	}
	if string(back) != string(sni) || m["alpn"] != "\"}" {
		t.Errorf("sni %q, alpn %q from %s", m["sni"], m["alpn"], got)
	}
}

func TestAppendTLSVersion(t *testing.T) {
	tests := []struct {
		v    uint16
		want string
	}{{0, ""}, {0x0304, "1.3"}, {0x0303, "1.2"}, {0x0302, "1.1"}, {0x0301, "1.0"}, {0x0300, "ssl3"}, {0x7f1c, "0x7F1C"}}
	for _, tt := range tests {
		if got := string(AppendTLSVersion(nil, tt.v)); got != tt.want {
			t.Errorf("AppendTLSVersion(%#x) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

// TestAppendCipherSuite: the names are crypto/tls's for every suite id.
func TestAppendCipherSuite(t *testing.T) {
	if got := AppendCipherSuite(nil, 0); len(got) != 0 {
		t.Errorf("AppendCipherSuite(0) = %q, want nothing", got)
	}
	for id := 1; id < 1<<16; id++ {
		if got, want := string(AppendCipherSuite(nil, uint16(id))), tls.CipherSuiteName(uint16(id)); got != want {
			t.Errorf("AppendCipherSuite(%#04x) = %q, crypto/tls %q", id, got, want)
		}
	}
}

func TestTLSSignalSetters(t *testing.T) {
	var ts TLSSignal
	long := strings.Repeat("a", MaxSNI+1)
	if ts.SetServerName([]byte(long)) || len(ts.ServerName()) != 0 {
		t.Errorf("SetServerName stored %d bytes over MaxSNI", len(ts.ServerName()))
	}
	if !ts.SetServerName([]byte(long[:MaxSNI])) || string(ts.ServerName()) != long[:MaxSNI] {
		t.Errorf("SetServerName of MaxSNI bytes failed")
	}
	if ts.SetProtocol([]byte(long[:MaxALPN+1])) || len(ts.Protocol()) != 0 {
		t.Errorf("SetProtocol stored a protocol over MaxALPN")
	}
	if ts.JA4Bytes() != nil || ts.JA3Bytes() != nil {
		t.Errorf("zero TLSSignal has fingerprints")
	}
}

// TestAppendJSONFieldNames keeps the documented names and order stable.
func TestAppendJSONFieldNames(t *testing.T) {
	want := []string{"version", "synTimeNs", "synAckTimeNs", "ackTimeNs", "handshakeRttUs", "tcpRttUs",
		"tcpRttVarUs", "tcpMinRttUs", "mss", "retransmits", "ipVersion", "ttl", "df", "window", "wscale",
		"synMss", "timestamps", "sackPermitted", "synCookie", "options", "fingerprint", "timingSource", "synSource",
		"tlsVersion", "tlsHelloVersion", "tlsCipher", "tlsResumed", "tlsHandshakeUs", "sni", "alpn", "ja4", "ja3"}
	dec := json.NewDecoder(bytes.NewReader(loopbackSignal(t).AppendJSON(nil)))
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	for i := 0; dec.More(); i++ {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		if i >= len(want) || tok != want[i] {
			t.Fatalf("field %d = %v, want %v", i, tok, want[min(i, len(want)-1)])
		}
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDocTable: every JSON field and property has a row in doc.go's tables.
func TestDocTable(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(loopbackSignal(t).AppendJSON(nil), &m); err != nil {
		t.Fatal(err)
	}
	for name := range m {
		if !bytes.Contains(doc, []byte("\n//\t"+name+" ")) {
			t.Errorf("JSON field %q has no row in doc.go", name)
		}
	}
	for _, name := range PropertyNames {
		if !bytes.Contains(doc, []byte("\n//\t"+name+" ")) {
			t.Errorf("property %q has no row in doc.go", name)
		}
	}
}

func TestAppendValue(t *testing.T) {
	s := tlsSignal(t)
	s.MinRTT = 1500
	tests := []struct {
		name, want string
		ok         bool
	}{
		{PropTCPRTTMs, "0.021", true},
		{PropHandshakeRTTMs, "0.022", true},
		{PropTCPMinRTTMs, "1.5", true},
		{PropSYNTTL, "64", true},
		{PropSYNWindow, "65495", true},
		{PropSYNMSS, "65495", true},
		{PropSYNWScale, "10", true},
		{PropSYNFingerprint, "b1_4d_64_2.4.8.1.3_65495_10_m1", true},
		{PropCaptureSource, "ebpf", true},
		{PropTLSJA4, "t13d3112h2_e8f1e7e78f70_b26ce05bbdd6", true},
		{PropTLSJA3, "0149f47eabf9a20d0893e2a44e5a6323", true},
		{PropTLSVersion, "1.3", true},
		{PropTLSHandshakeMs, "1.234", true},
		{PropSNI, "brink.test", true},
		{"nope", "", false},
	}
	for _, tt := range tests {
		got, ok := s.AppendValue([]byte("p:"), tt.name)
		if ok != tt.ok || (ok && string(got) != "p:"+tt.want) || (!ok && string(got) != "p:") {
			t.Errorf("AppendValue(%q) = %q, %v; want %q, %v", tt.name, got, ok, "p:"+tt.want, tt.ok)
		}
	}
	// The TLS properties need no SYN; the SYN ones no TLS.
	tlsOnly := *s
	tlsOnly.IPVersion = 0
	for _, name := range []string{PropTLSJA4, PropTLSJA3, PropTLSVersion, PropTLSHandshakeMs, PropSNI} {
		if _, ok := tlsOnly.AppendValue(nil, name); !ok {
			t.Errorf("AppendValue(%q) without a SYN is absent", name)
		}
	}
	if got, ok := loopbackSignal(t).AppendValue(nil, PropSYNTTL); !ok || string(got) != "64" {
		t.Errorf("AppendValue(synTtl) without TLS = %q, %v", got, ok)
	}
	if len(PropertyNames) != len(tests)-1 {
		t.Errorf("PropertyNames has %d names, the test %d", len(PropertyNames), len(tests)-1)
	}

	var empty Signal
	empty.Reset()
	for _, name := range PropertyNames {
		got, ok := empty.AppendValue(nil, name)
		if name == PropCaptureSource {
			if !ok || string(got) != "none" {
				t.Errorf("empty AppendValue(%q) = %q, %v; want none, true", name, got, ok)
			}
		} else if ok {
			t.Errorf("empty AppendValue(%q) = %q, true; want absent", name, got)
		}
	}
}

func TestAppendMillis(t *testing.T) {
	tests := []struct {
		us   uint64
		want string
	}{{1, "0.001"}, {10, "0.01"}, {21, "0.021"}, {1000, "1"}, {1500, "1.5"}, {123456, "123.456"}, {120000, "120"}}
	for _, tt := range tests {
		if got, _ := appendMillis(nil, tt.us); string(got) != tt.want {
			t.Errorf("appendMillis(%d) = %q, want %q", tt.us, got, tt.want)
		}
	}
}

func TestCaptureSource(t *testing.T) {
	tests := []struct {
		timing, syn, want Source
	}{
		{SourceNone, SourceNone, SourceNone},
		{SourceFallback, SourceNone, SourceFallback},
		{SourceNone, SourceFallback, SourceFallback},
		{SourceEBPF, SourceNone, SourceEBPF},
		{SourceFallback, SourceEBPF, SourceEBPF},
	}
	for _, tt := range tests {
		s := Signal{TimingSource: tt.timing, SYNSource: tt.syn}
		if got := s.CaptureSource(); got != tt.want {
			t.Errorf("CaptureSource(%v, %v) = %v, want %v", tt.timing, tt.syn, got, tt.want)
		}
	}
	if Source(9).String() != "unknown" {
		t.Errorf("Source(9).String() = %q", Source(9).String())
	}
}

func TestInitialTTL(t *testing.T) {
	for ttl, want := range map[uint8]uint8{0: 0, 1: 32, 32: 32, 33: 64, 64: 64, 65: 128, 113: 128, 128: 128, 129: 255, 255: 255} {
		if got := InitialTTL(ttl); got != want {
			t.Errorf("InitialTTL(%d) = %d, want %d", ttl, got, want)
		}
	}
}
