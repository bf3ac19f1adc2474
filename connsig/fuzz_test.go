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
