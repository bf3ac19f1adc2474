package tlshello

import (
	"bytes"
	"errors"
	"slices"
	"testing"
)

func TestParseFields(t *testing.T) {
	var h Hello
	b := exampleSpec().bytes()
	b = append(b, 0x17, 3, 3, 0, 1, 0) // the client's next record is not looked at
	if err := h.Parse(b); err != nil {
		t.Fatal(err)
	}
	if h.Len() != len(b)-6 || !h.Parsed() {
		t.Errorf("Len = %d, want %d", h.Len(), len(b)-6)
	}
	if got := string(h.ServerName()); got != "example.com" {
		t.Errorf("ServerName = %q", got)
	}
	if h.NumALPN() != 2 || string(h.ALPN(0)) != "h2" || string(h.ALPN(1)) != "http/1.1" {
		t.Errorf("ALPN = %d values", h.NumALPN())
	}
	if !h.HasALPN("http/1.1") || !h.HasALPN("h2") || h.HasALPN("h3") || h.HasALPN("") {
		t.Errorf("HasALPN wrong")
	}
	if h.MaxVersion() != 0x0304 || h.LegacyVersion() != 0x0303 {
		t.Errorf("MaxVersion %#x, LegacyVersion %#x", h.MaxVersion(), h.LegacyVersion())
	}
	s := exampleSpec()
	if !slices.Equal(h.CipherSuites(), s.ciphers) {
		t.Errorf("CipherSuites = %x", h.CipherSuites())
	}
	var types []uint16
	for _, e := range s.exts {
		types = append(types, e.typ)
	}
	if !slices.Equal(h.Extensions(), types) {
		t.Errorf("Extensions = %x, want %x", h.Extensions(), types)
	}
	if !slices.Equal(h.SignatureAlgorithms(), []uint16{0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601}) {
		t.Errorf("SignatureAlgorithms = %x", h.SignatureAlgorithms())
	}
	if !slices.Equal(h.SupportedGroups(), []uint16{0x2a2a, 0x001d, 0x0017, 0x0018}) {
		t.Errorf("SupportedGroups = %x", h.SupportedGroups())
	}
	if !slices.Equal(h.SupportedVersions(), []uint16{0x7a7a, 0x0304, 0x0303}) {
		t.Errorf("SupportedVersions = %x", h.SupportedVersions())
	}
	if !bytes.Equal(h.PointFormats(), []byte{0}) || !bytes.Equal(h.CompressionMethods(), []byte{0}) {
		t.Errorf("PointFormats = %x, CompressionMethods = %x", h.PointFormats(), h.CompressionMethods())
	}
	if len(h.SessionID()) != 32 || !h.HasExtension(0x4469) || h.HasExtension(0x0039) {
		t.Errorf("SessionID or HasExtension wrong")
	}
	if raw := h.Raw(); !bytes.Equal(raw, exampleSpec().message()) {
		t.Errorf("Raw differs from the message")
	}

	// The Hello owns its bytes: changing the input changes nothing.
	clear(b)
	if got := string(h.ServerName()); got != "example.com" {
		t.Errorf("ServerName after the input changed = %q", got)
	}

	h.Reset()
	if h.Len() != 0 || h.ServerName() != nil || h.NumALPN() != 0 || h.CipherSuites() != nil && len(h.CipherSuites()) != 0 ||
		h.MaxVersion() != 0 || h.Raw() != nil || len(h.AppendJA4(nil)) != 0 || len(h.AppendJA3(nil)) != 0 {
		t.Errorf("Reset left state")
	}
}

func TestParseNoSNI(t *testing.T) {
	var h Hello
	if err := h.Parse(spec{ciphers: []uint16{0x1301}, exts: []ext{alpnExt("h2")}}.bytes()); err != nil {
		t.Fatal(err)
	}
	if h.ServerName() != nil {
		t.Errorf("ServerName = %q, want nil", h.ServerName())
	}
	// A server_name list with only other name types has no host_name.
	other := ext{ExtServerName, vec16(append([]byte{1}, vec16([]byte("x"))...))}
	if err := h.Parse(spec{exts: []ext{other}}.bytes()); err != nil {
		t.Fatal(err)
	}
	if h.ServerName() != nil || h.AppendJA4(nil)[3] != 'd' {
		t.Errorf("ServerName = %q, JA4 %s", h.ServerName(), h.AppendJA4(nil))
	}
}

// TestParseSplit: a hello in several records, arriving in pieces, answers
// ErrNeedMore until its last byte is in and then parses as a whole.
func TestParseSplit(t *testing.T) {
	msg := exampleSpec().message()
	want := records(msg, 0)
	var h Hello
	if err := h.Parse(want); err != nil {
		t.Fatal(err)
	}
	wantJA4 := string(h.AppendJA4(nil))
	for _, size := range []int{0, 1, 2, 3, 4, 5, 100, len(msg) - 1} {
		b := records(msg, size)
		for i := range len(b) {
			if err := h.Parse(b[:i]); err != ErrNeedMore {
				t.Fatalf("records of %d: Parse of %d of %d bytes = %v, want ErrNeedMore", size, i, len(b), err)
			}
		}
		if err := h.Parse(b); err != nil {
			t.Fatalf("records of %d: %v", size, err)
		}
		if h.Len() != len(b) || string(h.AppendJA4(nil)) != wantJA4 || string(h.ServerName()) != "example.com" {
			t.Errorf("records of %d: Len %d of %d, JA4 %s", size, h.Len(), len(b), h.AppendJA4(nil))
		}
		if !bytes.Equal(h.Raw(), msg) {
			t.Errorf("records of %d: reassembled message differs", size)
		}
	}
	// crypto/tls agrees that a hello in 1-byte records is one hello.
	in, _ := stdlibInput(t, records(msg, 1))
	if got := refJA4(in); got != wantJA4 {
		t.Errorf("crypto/tls reading 1-byte records: JA4 %s, want %s", got, wantJA4)
	}
}

func TestParseErrors(t *testing.T) {
	good := exampleSpec().bytes()
	msg := exampleSpec().message()
	withBody := func(body []byte) []byte {
		m := append([]byte{typeClientHello, 0, byte(len(body) >> 8), byte(len(body))}, body...)
		return records(m, 0)
	}
	fixed := append(u16(0x0303), make([]byte, 32)...)
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	bigMsg := spec{exts: []ext{{0x0015, make([]byte, MaxHelloBytes)}}}.message()
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrNeedMore},
		{"one byte", []byte{0x16}, ErrNeedMore},
		{"HTTP", []byte("GET / HTTP/1.1\r\n"), ErrNotTLS},
		{"SSLv2 hello", []byte{0x80, 0x2e, 0x01, 0x03, 0x01}, ErrNotTLS},
		{"record version 4.x", []byte{0x16, 4, 1, 0, 5}, ErrNotTLS},
		{"record version 3.9", []byte{0x16, 3, 9}, ErrNotTLS},
		{"alert first", []byte{0x15, 3, 3, 0, 2, 2, 40}, ErrNotTLS},
		{"empty record", []byte{0x16, 3, 1, 0, 0}, errRecordEmpty},
		{"record over 2^14", []byte{0x16, 3, 1, 0x40, 0x01}, ErrTooLarge},
		{"hello over 16 KiB", records(bigMsg, 0)[:100], ErrTooLarge},
		{"hello over 16 KiB in small records", records(bigMsg, 1000)[:MaxHelloBytes+10], ErrTooLarge},
		{"server_hello", records([]byte{2, 0, 0, 1, 0}, 0), errHandshakeType},
		{"change_cipher_spec between records", cat(records(msg[:10], 0), []byte{0x14, 3, 3, 0, 1, 1}), errRecordType},
		{"partial alert header between records", cat(records(msg[:10], 0), []byte{0x15}), errRecordType},
		{"bad version in second record", cat(records(msg[:10], 0), []byte{0x16, 2, 0, 0, 1, 0}), errRecordVersion},
		{"trailing handshake data", records(append(slices.Clone(msg), 0x0b, 0, 0, 0), 0), errTrailing},
		{"short body", withBody(fixed[:20]), errShortBody},
		{"session id 33", withBody(cat(fixed, vec8(make([]byte, 33)))), errSessionID},
		{"session id truncated", withBody(cat(fixed, []byte{10, 0})), errSessionID},
		{"odd cipher suites", withBody(cat(fixed, vec8(nil), vec16([]byte{0x13}))), errCipherSuites},
		{"cipher suites truncated", withBody(cat(fixed, vec8(nil), []byte{0, 4, 0x13, 1})), errCipherSuites},
		{"no compression", withBody(cat(fixed, vec8(nil), vec16(u16(0x1301)))), errCompression},
		{"extensions length", withBody(cat(fixed, vec8(nil), vec16(u16(0x1301)), vec8([]byte{0}), []byte{0, 9, 0})), errExtensions},
		{"bytes after extensions", withBody(cat(fixed, vec8(nil), vec16(u16(0x1301)), vec8([]byte{0}), vec16(nil), []byte{0})), errExtensions},
		{"extension header", spec{exts: []ext{{0x17, nil}}}.withExtBytes([]byte{0, 0x17, 0}), errExtension},
		{"extension data truncated", spec{}.withExtBytes([]byte{0, 0x17, 0, 5, 1}), errExtension},
		{"duplicate extension", spec{exts: []ext{{0x17, nil}, {0x23, nil}, {0x17, nil}}}.bytes(), errDuplicateExt},
		{"duplicate GREASE", spec{exts: []ext{{0x0a0a, nil}, {0x0a0a, nil}}}.bytes(), errDuplicateExt},
		{"SNI list length", spec{exts: []ext{{ExtServerName, []byte{0, 9, 0}}}}.bytes(), errServerName},
		{"SNI name truncated", spec{exts: []ext{{ExtServerName, vec16([]byte{0, 0, 9, 'a'})}}}.bytes(), errServerName},
		{"SNI entry type only", spec{exts: []ext{{ExtServerName, vec16([]byte{0})}}}.bytes(), errServerName},
		{"SNI bytes after list", spec{exts: []ext{{ExtServerName, append(sniExt("a").data, 0)}}}.bytes(), errServerName},
		{"two host_names", spec{exts: []ext{{ExtServerName, vec16(cat([]byte{0}, vec16([]byte("a")), []byte{0}, vec16([]byte("b"))))}}}.bytes(), errServerName},
		{"empty host_name", spec{exts: []ext{sniExt("")}}.bytes(), errHostName},
		{"trailing dot", spec{exts: []ext{sniExt("example.com.")}}.bytes(), errHostName},
		{"space in host_name", spec{exts: []ext{sniExt("a b")}}.bytes(), errHostName},
		{"NUL in host_name", spec{exts: []ext{sniExt("a\x00b")}}.bytes(), errHostName},
		{"UTF-8 host_name", spec{exts: []ext{sniExt("é.example")}}.bytes(), errHostName},
		{"host_name over 255", spec{exts: []ext{sniExt(string(bytes.Repeat([]byte("a"), 256)))}}.bytes(), errHostName},
		{"ALPN list length", spec{exts: []ext{{ExtALPN, []byte{0, 5, 2, 'h'}}}}.bytes(), errALPN},
		{"ALPN value truncated", spec{exts: []ext{{ExtALPN, vec16([]byte{5, 'h'})}}}.bytes(), errALPN},
		{"ALPN empty data", spec{exts: []ext{{ExtALPN, nil}}}.bytes(), errALPN},
		{"sigalgs odd", spec{exts: []ext{{ExtSignatureAlgorithms, vec16([]byte{4, 3, 8})}}}.bytes(), errSigAlgs},
		{"sigalgs trailing", spec{exts: []ext{{ExtSignatureAlgorithms, append(vec16(u16(0x0403)), 0)}}}.bytes(), errSigAlgs},
		{"groups odd", spec{exts: []ext{{ExtSupportedGroups, vec16([]byte{0})}}}.bytes(), errGroups},
		{"groups truncated", spec{exts: []ext{{ExtSupportedGroups, []byte{0}}}}.bytes(), errGroups},
		{"point formats truncated", spec{exts: []ext{{ExtECPointFormats, []byte{3, 0}}}}.bytes(), errPointFormats},
		{"versions odd", spec{exts: []ext{{ExtSupportedVersions, vec8([]byte{3, 4, 3})}}}.bytes(), errVersions},
		{"versions missing", spec{exts: []ext{{ExtSupportedVersions, nil}}}.bytes(), errVersions},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Hello
			if err := h.Parse(good); err != nil {
				t.Fatal(err)
			}
			err := h.Parse(tt.in)
			if err != tt.want {
				t.Fatalf("Parse = %v, want %v", err, tt.want)
			}
			if h.Len() != 0 || h.ServerName() != nil || len(h.Extensions()) != 0 || len(h.AppendJA4(nil)) != 0 {
				t.Errorf("a failed Parse left state behind")
			}
			if _, ok := tt.want.(*fieldError); ok && !errors.Is(err, ErrMalformed) {
				t.Errorf("%v does not match ErrMalformed", err)
			}
		})
	}
	if errors.Is(ErrNotTLS, ErrMalformed) || errors.Is(ErrNeedMore, ErrMalformed) {
		t.Errorf("a sentinel other than the field errors matches ErrMalformed")
	}
	if got := errServerName.Error(); got != "tlshello: malformed ClientHello: server_name extension" {
		t.Errorf("error text %q", got)
	}
}

// withExtBytes builds a hello whose extensions block holds raw.
func (s spec) withExtBytes(raw []byte) []byte {
	s.noExts = true
	m := s.message()
	m = append(m, vec16(raw)...)
	n := len(m) - 4
	m[1], m[2], m[3] = byte(n>>16), byte(n>>8), byte(n)
	return records(m, 0)
}

func TestIsGREASE(t *testing.T) {
	for v := range 1 << 16 {
		if got, want := IsGREASE(uint16(v)), isGREASE(uint16(v)); got != want {
			t.Errorf("IsGREASE(%#04x) = %v, want %v", v, got, want)
		}
	}
}

// TestParseAtLimit: a hello whose record takes exactly MaxHelloBytes
// parses; a message one byte longer is ErrTooLarge, whole or in part.
func TestParseAtLimit(t *testing.T) {
	for _, extra := range []int{0, 1} {
		s := spec{ciphers: []uint16{0x1301}, exts: []ext{{0x0015, nil}}}
		s.exts[0].data = make([]byte, MaxHelloBytes-recordHeaderLen-len(s.message())+extra)
		msg := s.message()
		if len(msg) != MaxHelloBytes-recordHeaderLen+extra {
			t.Fatalf("message of %d bytes", len(msg))
		}
		b := records(msg, maxRecordLen)
		var h Hello
		err := h.Parse(b)
		if extra == 0 && (err != nil || h.Len() != MaxHelloBytes) {
			t.Errorf("%d bytes: Parse = %v, Len %d; want success", len(b), err, h.Len())
		}
		if extra == 1 {
			if err != ErrTooLarge {
				t.Errorf("%d bytes: Parse = %v, want ErrTooLarge", len(b), err)
			}
			if err := h.Parse(b[:9]); err != ErrTooLarge {
				t.Errorf("first 9 bytes: Parse = %v, want ErrTooLarge", err)
			}
		}
	}
}
