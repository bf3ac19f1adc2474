package connsig

import (
	"bytes"
	"errors"
	"testing"
)

func TestParseSYN(t *testing.T) {
	for _, tt := range synSamples {
		t.Run(tt.name, func(t *testing.T) {
			var s Signal
			s.Reset()
			s.RTT, s.TimingSource = 7, SourceEBPF // not ParseSYN's to touch
			if err := ParseSYN(tt.pkt, &s); err != nil {
				t.Fatalf("ParseSYN = %v", err)
			}
			got := synSample{
				ipVersion: s.IPVersion, ttl: s.TTL, df: s.DF, window: s.Window, wscale: s.WScale,
				mss: s.SYNMSS, ts: s.Timestamps, sack: s.SACKPermitted,
			}
			want := tt
			want.name, want.pkt, want.options, want.fingerprint = "", nil, nil, ""
			if got.ipVersion != want.ipVersion || got.ttl != want.ttl || got.df != want.df || got.window != want.window ||
				got.wscale != want.wscale || got.mss != want.mss || got.ts != want.ts || got.sack != want.sack {
				t.Errorf("ParseSYN fields = %+v, want %+v", got, want)
			}
			if opts := s.Options[:s.NumOptions]; !bytes.Equal(opts, tt.options) {
				t.Errorf("Options = %v, want %v", opts, tt.options)
			}
			if fp := string(s.AppendFingerprint(nil)); fp != tt.fingerprint {
				t.Errorf("fingerprint = %q, want %q", fp, tt.fingerprint)
			}
			if s.RTT != 7 || s.TimingSource != SourceEBPF {
				t.Errorf("ParseSYN changed non-SYN fields: RTT %d, TimingSource %v", s.RTT, s.TimingSource)
			}
		})
	}
}

func TestParseSYNErrors(t *testing.T) {
	linux := synSamples[0].pkt
	mut := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(linux)) }
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrShortPacket},
		{"ipv4 short", linux[:19], ErrShortPacket},
		{"ipv6 short", synSamples[1].pkt[:39], ErrShortPacket},
		{"version 5", mut(func(b []byte) []byte { b[0] = 0x55; return b }), ErrIPVersion},
		{"ihl 4", mut(func(b []byte) []byte { b[0] = 0x44; return b }), ErrHeaderLength},
		{"ihl past end", mut(func(b []byte) []byte { b[0] = 0x4f; return b[:40] }), ErrShortPacket},
		{"udp", mut(func(b []byte) []byte { b[9] = 17; return b }), ErrNotTCP},
		{"tcp short", linux[:39], ErrShortPacket},
		{"doff 4", mut(func(b []byte) []byte { b[32] = 0x40; return b }), ErrHeaderLength},
		{"doff past end", linux[:50], ErrShortPacket},
		{"ack only", mut(func(b []byte) []byte { b[33] = 0x10; return b }), ErrNotSYN},
		{"option length 1", mut(func(b []byte) []byte { b[41] = 1; return b }), ErrBadOption},
		{"option past header", mut(func(b []byte) []byte { b[41] = 40; return b }), ErrBadOption},
		{"option kind without length", ipv4SYN(64, false, nil, tcpSYN(100, "01010103")), ErrBadOption},
		{"ipv6 udp", func() []byte { b := bytes.Clone(synSamples[1].pkt); b[6] = 17; return b }(), ErrNotTCP},
		{"ipv6 ext past end", synSamples[5].pkt[:44], ErrShortPacket},
		{"ipv6 non-first fragment", func() []byte {
			b := bytes.Clone(synSamples[5].pkt)
			b[6], b[40], b[42], b[43] = 44, 6, 0x00, 0x08 // fragment header, offset 1
			return b
		}(), ErrNotTCP},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s Signal
			err := ParseSYN(tt.in, &s)
			if !errors.Is(err, tt.want) {
				t.Fatalf("ParseSYN = %v, want %v", err, tt.want)
			}
			if tt.want != ErrBadOption && (s.IPVersion != 0 || s.NumOptions != 0 || s.WScale != -1) {
				t.Errorf("after %v the SYN fields are not cleared: %+v", err, s)
			}
		})
	}
}

// TestParseSYNBadOptionKeepsHeader: the header fields and the options before
// a malformed one survive ErrBadOption.
func TestParseSYNBadOptionKeepsHeader(t *testing.T) {
	b := bytes.Clone(synSamples[0].pkt)
	b[47] = 0 // the timestamp option's length (after MSS and SACK-perm)
	var s Signal
	if err := ParseSYN(b, &s); !errors.Is(err, ErrBadOption) {
		t.Fatalf("ParseSYN = %v, want ErrBadOption", err)
	}
	if s.IPVersion != 4 || s.TTL != 64 || s.SYNMSS != 65495 || !s.SACKPermitted {
		t.Errorf("fields before the bad option lost: %+v", s)
	}
	if got, want := s.Options[:s.NumOptions], []uint8{2, 4, 8}; !bytes.Equal(got, want) {
		t.Errorf("Options = %v, want %v", got, want)
	}
}

func TestParseSYNOptionEdgeCases(t *testing.T) {
	tests := []struct {
		name    string
		opts    string
		options []uint8
		mss     uint16
		wscale  int8
		ts      bool
	}{
		{"wrong-length mss is listed, not decoded", "0205050000000000", []uint8{2, 0}, 0, -1, false},
		{"wscale above 127 clamps", "0303ff01", []uint8{3, 1}, 0, 127, false},
		{"eol stops", "00030307", []uint8{0}, 0, -1, false},
		{"unknown kind skipped by length", "fe0400000303070001010101", []uint8{254, 3, 0}, 0, 7, false},
		{"40 nops: 16 listed", "01010101010101010101010101010101010101010101010101010101010101010101010101010101",
			bytes.Repeat([]byte{1}, MaxOptions), 0, -1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s Signal
			if err := ParseSYN(ipv4SYN(64, false, nil, tcpSYN(100, tt.opts)), &s); err != nil {
				t.Fatalf("ParseSYN = %v", err)
			}
			if got := s.Options[:s.NumOptions]; !bytes.Equal(got, tt.options) {
				t.Errorf("Options = %v, want %v", got, tt.options)
			}
			if s.SYNMSS != tt.mss || s.WScale != tt.wscale || s.Timestamps != tt.ts {
				t.Errorf("mss %d wscale %d ts %v, want %d %d %v", s.SYNMSS, s.WScale, s.Timestamps, tt.mss, tt.wscale, tt.ts)
			}
		})
	}
}
