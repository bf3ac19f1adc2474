package tcpsig

import (
	"errors"
	"testing"

	"github.com/brink-edge/brink/connsig"
)

// FuzzDecodeRecord: any map value decodes or fails with a sentinel, never
// panics or reads past the value, and what decodes encodes as JSON.
func FuzzDecodeRecord(f *testing.F) {
	r := establishedRecord()
	f.Add(r.encode())
	r.flags |= flagCookie
	r.synacks = 3
	f.Add(r.encode())
	f.Add(testRecord{version: recordVersion, flags: flagListener}.encode())
	r = establishedRecord()
	r.syn = linuxSYN[:30]
	f.Add(r.encode())
	f.Add(make([]byte, recordSize-1))
	f.Fuzz(func(t *testing.T, b []byte) {
		var s connsig.Signal
		s.Reset()
		err := decodeRecord(b, &s)
		switch {
		case err == nil:
			if s.TimingSource != connsig.SourceEBPF {
				t.Fatalf("decoded with TimingSource %v", s.TimingSource)
			}
			if s.HandshakeRTT < 0 {
				t.Fatalf("negative HandshakeRTT %d", s.HandshakeRTT)
			}
		case errors.Is(err, ErrShortRecord), errors.Is(err, ErrRecordVersion),
			errors.Is(err, ErrNotEstablished), errors.Is(err, ErrBadRecord):
			if s.TimingSource != connsig.SourceNone {
				t.Fatalf("error %v with TimingSource %v", err, s.TimingSource)
			}
		default:
			t.Fatalf("non-sentinel error %v", err)
		}
		s.AppendJSON(nil)
	})
}
