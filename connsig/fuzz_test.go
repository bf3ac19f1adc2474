package connsig

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

// FuzzParseSYN: any bytes parse or fail with a sentinel, never panic or read
// past the input, and a parsed SYN encodes to valid JSON.
func FuzzParseSYN(f *testing.F) {
	for _, s := range synSamples {
		f.Add(s.pkt)
	}
	f.Add([]byte{0x45})
	f.Add([]byte{0x60, 0, 0, 0, 0, 0, 0, 64})
	f.Fuzz(func(t *testing.T, pkt []byte) {
		in := bytes.Clone(pkt)
		var s Signal
		s.Reset()
		err := ParseSYN(pkt, &s)
		if !bytes.Equal(in, pkt) {
			t.Fatalf("ParseSYN modified its input")
		}
		switch {
		case err == nil, errors.Is(err, ErrBadOption):
			if s.IPVersion != 4 && s.IPVersion != 6 {
				t.Fatalf("parsed with IPVersion %d", s.IPVersion)
			}
		case errors.Is(err, ErrShortPacket), errors.Is(err, ErrIPVersion), errors.Is(err, ErrHeaderLength),
			errors.Is(err, ErrNotTCP), errors.Is(err, ErrNotSYN):
			if s.IPVersion != 0 || s.NumOptions != 0 {
				t.Fatalf("error %v left SYN fields set: %+v", err, s)
			}
		default:
			t.Fatalf("ParseSYN returned a non-sentinel error %v", err)
		}
		if s.NumOptions > MaxOptions {
			t.Fatalf("NumOptions %d > %d", s.NumOptions, MaxOptions)
		}
		if js := s.AppendJSON(nil); !json.Valid(js) {
			t.Fatalf("invalid JSON %s", js)
		}
		for _, name := range PropertyNames {
			s.AppendValue(nil, name)
		}
	})
}

// FuzzTLSJSON: any SNI and ALPN bytes and TLS numbers give valid JSON in
// which sni and alpn read back byte for byte.
func FuzzTLSJSON(f *testing.F) {
	f.Add([]byte("brink.test"), []byte("h2"), uint16(0x0304), uint16(0x1301), int64(1234567))
	f.Add([]byte("a\"\\\x00\xff</"), []byte("\x7f\u2028"), uint16(0), uint16(0xffff), int64(-1))
	f.Fuzz(func(t *testing.T, sni, alpn []byte, version, cipher uint16, latency int64) {
		var s Signal
		s.Reset()
		okSNI := s.TLS.SetServerName(sni)
		okALPN := s.TLS.SetProtocol(alpn)
		s.TLS.Version, s.TLS.HelloVersion, s.TLS.CipherSuite, s.TLS.HandshakeLatency = version, version, cipher, latency
		js := s.AppendJSON(nil)
		var m map[string]any
		if err := json.Unmarshal(js, &m); err != nil {
			t.Fatalf("invalid JSON: %v\n%s", err, js)
		}
		back := func(v any) []byte {
			var out []byte
			for _, r := range v.(string) {
				out = append(out, byte(r))
			}
			return out
		}
		if okSNI != (len(sni) <= MaxSNI) || okSNI && !bytes.Equal(back(m["sni"]), sni) {
			t.Fatalf("sni %q (stored %v) reads back as %q", sni, okSNI, m["sni"])
		}
		if okALPN != (len(alpn) <= MaxALPN) || okALPN && !bytes.Equal(back(m["alpn"]), alpn) {
			t.Fatalf("alpn %q (stored %v) reads back as %q", alpn, okALPN, m["alpn"])
		}
		for _, name := range PropertyNames {
			s.AppendValue(nil, name)
		}
	})
}
