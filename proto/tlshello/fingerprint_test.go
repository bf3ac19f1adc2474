package tlshello

import (
	"bytes"
	"testing"

	"github.com/brink-edge/brink/connsig"
)

// TestJA4HashVectors: the cipher and extension hashes of JA4.md's worked
// example (signals-tls-tunnels.md §1.1).
func TestJA4HashVectors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9", "8daaf6152771"},
		{"0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_0403,0804,0401,0503,0805,0501,0806,0601", "e5627efa2ab1"},
		{"0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01", "6d807ffa2a79"},
		{"", "000000000000"},
	}
	for _, tt := range tests {
		if got := string(appendTruncatedSHA256(nil, []byte(tt.in))); got != tt.want {
			t.Errorf("hash(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

// TestJA4Example: JA4.md's example hello, rebuilt with GREASE in every list,
// gives the specification's fingerprint.
func TestJA4Example(t *testing.T) {
	var h Hello
	if err := h.Parse(exampleSpec().bytes()); err != nil {
		t.Fatal(err)
	}
	const want = "t13d1516h2_8daaf6152771_e5627efa2ab1"
	if got := string(h.AppendJA4(nil)); got != want {
		t.Errorf("AppendJA4 = %s, want %s", got, want)
	}
	if got := refJA4(helloInput(&h)); got != want {
		t.Errorf("reference JA4 = %s, want %s (the test's reference is wrong)", got, want)
	}
	if got := string(h.AppendJA4([]byte("x="))); got != "x="+want {
		t.Errorf("AppendJA4 does not append: %s", got)
	}
}

// TestJA3Vector: the salesforce/ja3 README vector (§1.8).
func TestJA3Vector(t *testing.T) {
	s := spec{
		legacy:  0x0301,
		ciphers: []uint16{0x1a1a, 47, 53, 5, 10, 49161, 49162, 49171, 49172, 50, 56, 19, 4},
		exts:    []ext{{0x2a2a, nil}, sniExt("a.example"), groupsExt(0x3a3a, 23, 24, 25), pointsExt(0)},
	}
	var h Hello
	if err := h.Parse(s.bytes()); err != nil {
		t.Fatal(err)
	}
	const wantStr = "769,47-53-5-10-49161-49162-49171-49172-50-56-19-4,0-10-11,23-24-25,0"
	const want = "ada70206e40642a3e4461f35503241d5"
	if got := string(h.AppendJA3String(nil)); got != wantStr {
		t.Errorf("AppendJA3String = %s, want %s", got, wantStr)
	}
	if got := string(h.AppendJA3(nil)); got != want {
		t.Errorf("AppendJA3 = %s, want %s", got, want)
	}
	if gotStr, got := refJA3(helloInput(&h)); gotStr != wantStr || got != want {
		t.Errorf("reference JA3 = %s %s (the test's reference is wrong)", gotStr, got)
	}
}

func TestJA4Rules(t *testing.T) {
	base := func(exts ...ext) spec {
		return spec{ciphers: []uint16{0x1301, 0xc02f}, exts: append([]ext{sigAlgsExt(0x0403)}, exts...)}
	}
	tests := []struct {
		name string
		s    spec
		want string // JA4_a, or the whole JA4 when it contains '_'
	}{
		{"no SNI", base(), "t12i020100"},
		{"SNI", base(sniExt("x.example")), "t12d020200"},
		{"empty SNI extension", base(ext{ExtServerName, nil}), "t12d020200"},
		{"h2", base(alpnExt("h2")), "t12i0202h2"},
		{"http/1.1", base(alpnExt("http/1.1", "h2")), "t12i0202h1"},
		{"one character", base(alpnExt("h")), "t12i0202hh"},
		{"non-alphanumeric last", base(alpnExt("h2/")), "t12i02026f"},
		{"non-alphanumeric first", base(alpnExt("/h2")), "t12i020222"},
		{"non-ASCII one byte", base(alpnExt("\xab")), "t12i0202ab"},
		{"empty first value", base(alpnExt("", "h2")), "t12i020200"},
		{"empty list", base(ext{ExtALPN, vec16(nil)}), "t12i020200"},
		{"TLS 1.3", base(versionsExt(0x0a0a, 0x0303, 0x0304)), "t13i020200"},
		{"only GREASE versions", base(versionsExt(0x0a0a)), "t00i020200"},
		{"TLS 1.1 legacy", spec{legacy: 0x0302, ciphers: []uint16{0x002f}}, "t11i0100"},
		{"SSL 3", spec{legacy: 0x0300, ciphers: []uint16{0x002f}, noExts: true}, "ts3i0100"},
		{"unknown version", spec{legacy: 0x0305, ciphers: []uint16{0x002f}}, "t00i0100"},
		{"GREASE not counted", base(ext{0x0a0a, nil}, ext{0xfafa, []byte{0}}), "t12i0201"},
		{"no ciphers, no extensions", spec{noExts: true}, "t12i000000_000000000000_000000000000"},
		{"only SNI and ALPN", spec{ciphers: []uint16{0x1301}, exts: []ext{sniExt("a.b"), alpnExt("h2")}},
			"t12d0102h2_" + hashOf("1301") + "_000000000000"},
		{"no signature algorithms", spec{ciphers: []uint16{0x1301}, exts: []ext{groupsExt(29), {0x0017, nil}}},
			"t12i010200_" + hashOf("1301") + "_" + hashOf("000a,0017")},
		{"GREASE-only signature algorithms", spec{ciphers: []uint16{0x1301}, exts: []ext{sigAlgsExt(0x0a0a)}},
			"t12i010100_" + hashOf("1301") + "_" + hashOf("000d")},
		{"signature algorithms in wire order", spec{ciphers: []uint16{0xc02f, 0x1301}, exts: []ext{sigAlgsExt(0x0804, 0x0403), {0x0017, nil}}},
			"t12i020200_" + hashOf("1301,c02f") + "_" + hashOf("000d,0017_0804,0403")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Hello
			if err := h.Parse(tt.s.bytes()); err != nil {
				t.Fatal(err)
			}
			got := string(h.AppendJA4(nil))
			if len(got) != connsig.JA4Len {
				t.Fatalf("AppendJA4 = %q: %d characters", got, len(got))
			}
			if !bytes.HasPrefix([]byte(got), []byte(tt.want)) {
				t.Errorf("AppendJA4 = %s, want %s...", got, tt.want)
			}
			if ref := refJA4(helloInput(&h)); ref != got {
				t.Errorf("AppendJA4 = %s, reference %s", got, ref)
			}
		})
	}
}

// TestJA4Counts: counts cap at 99.
func TestJA4Counts(t *testing.T) {
	var s spec
	for i := range 120 {
		s.ciphers = append(s.ciphers, uint16(0x1000+i))
		s.exts = append(s.exts, ext{uint16(0x5000 + i), nil})
	}
	var h Hello
	if err := h.Parse(s.bytes()); err != nil {
		t.Fatal(err)
	}
	got := string(h.AppendJA4(nil))
	if got[:10] != "t12i999900" {
		t.Errorf("AppendJA4 = %s, want t12i999900...", got)
	}
	if ref := refJA4(helloInput(&h)); ref != got {
		t.Errorf("AppendJA4 = %s, reference %s", got, ref)
	}
}

func hashOf(s string) string { return string(appendTruncatedSHA256(nil, []byte(s))) }

func TestFillSignal(t *testing.T) {
	var h Hello
	if err := h.Parse(exampleSpec().bytes()); err != nil {
		t.Fatal(err)
	}
	var s connsig.Signal
	s.Reset()
	s.TLS.Version, s.TLS.ALPNLen = 0x0304, 2
	h.FillSignal(&s.TLS)
	if s.TLS.HelloVersion != 0x0304 {
		t.Errorf("HelloVersion = %#x, want 0x0304", s.TLS.HelloVersion)
	}
	if got := string(s.TLS.SNI[:s.TLS.SNILen]); got != "example.com" {
		t.Errorf("SNI = %q", got)
	}
	if got := string(s.TLS.JA4[:]); got != "t13d1516h2_8daaf6152771_e5627efa2ab1" {
		t.Errorf("JA4 = %q", got)
	}
	if got, want := string(s.TLS.JA3[:]), string(h.AppendJA3(nil)); got != want {
		t.Errorf("JA3 = %q, want %q", got, want)
	}
	if s.TLS.Version != 0x0304 || s.TLS.ALPNLen != 2 {
		t.Errorf("FillSignal changed the negotiated fields: %+v", s.TLS)
	}

	// An unparsed Hello clears what it owns.
	h.Reset()
	h.FillSignal(&s.TLS)
	if s.TLS.HelloVersion != 0 || s.TLS.SNILen != 0 || s.TLS.JA4 != [connsig.JA4Len]byte{} || s.TLS.JA3 != [connsig.JA3Len]byte{} {
		t.Errorf("FillSignal after Reset left %+v", s.TLS)
	}
}
