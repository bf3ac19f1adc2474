package tcpsig

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/brink-edge/brink/connsig"
)

// linuxSYN is a Linux loopback SYN as TCP_BPF_SYN_IP returns it.
var linuxSYN, _ = hex.DecodeString("4500003c23a74000400619137f0000017f00000181289f23d920404300000000" +
	"a002ffd7fe3000000204ffd70402080a044c6c71000000000103030a")

// testRecord is the Go side of a struct record, for encoding test input.
type testRecord struct {
	synNs, synackNs, synackLastNs, ackNs  uint64
	srtt, mdev, rttMin, mss, totalRetrans uint32
	synacks                               uint16
	version, flags                        uint8
	syn                                   []byte
	synLen                                int // -1: len(syn)
}

func (r testRecord) encode() []byte {
	b := make([]byte, recordSize)
	le := binary.LittleEndian
	le.PutUint64(b[offSYNNs:], r.synNs)
	le.PutUint64(b[offSYNACKNs:], r.synackNs)
	le.PutUint64(b[offSYNACKLastNs:], r.synackLastNs)
	le.PutUint64(b[offACKNs:], r.ackNs)
	le.PutUint32(b[offSRTT:], r.srtt)
	le.PutUint32(b[offMdev:], r.mdev)
	le.PutUint32(b[offRTTMin:], r.rttMin)
	le.PutUint32(b[offMSS:], r.mss)
	le.PutUint32(b[offTotalRetrans:], r.totalRetrans)
	le.PutUint16(b[offSYNACKs:], r.synacks)
	b[offVersion], b[offFlags] = r.version, r.flags
	n := r.synLen
	if n < 0 {
		n = len(r.syn)
	}
	le.PutUint16(b[offSYNLen:], uint16(n))
	copy(b[offSYN:], r.syn)
	return b
}

func establishedRecord() testRecord {
	return testRecord{
		synNs: 1000, synackNs: 1500, synackLastNs: 1500, ackNs: 31500,
		srtt: 30, mdev: 15, rttMin: 30, mss: 32768, synacks: 1,
		version: recordVersion, flags: flagRequest | flagSYN | flagEstablished,
		syn: linuxSYN, synLen: -1,
	}
}

func TestDecodeRecord(t *testing.T) {
	var s connsig.Signal
	s.Reset()
	if err := decodeRecord(establishedRecord().encode(), &s); err != nil {
		t.Fatalf("decodeRecord = %v", err)
	}
	if s.SYNTime != 1000 || s.SYNACKTime != 1500 || s.ACKTime != 31500 || s.HandshakeRTT != 30000 {
		t.Errorf("times %d %d %d rtt %d", s.SYNTime, s.SYNACKTime, s.ACKTime, s.HandshakeRTT)
	}
	if s.RTT != 30 || s.RTTVar != 15 || s.MinRTT != 30 || s.MSS != 32768 || s.Retransmits != 0 {
		t.Errorf("RTT figures %d %d %d %d %d", s.RTT, s.RTTVar, s.MinRTT, s.MSS, s.Retransmits)
	}
	if s.TimingSource != connsig.SourceEBPF || s.SYNSource != connsig.SourceEBPF || s.TTL != 64 || s.SYNMSS != 65495 {
		t.Errorf("sources %v %v, TTL %d, SYNMSS %d", s.TimingSource, s.SYNSource, s.TTL, s.SYNMSS)
	}
}

func TestDecodeRecordCases(t *testing.T) {
	tests := []struct {
		name    string
		mod     func(r *testRecord)
		wantErr error
		check   func(t *testing.T, s *connsig.Signal)
	}{
		{"syn-ack retransmitted: no handshake RTT (Karn)", func(r *testRecord) { r.synacks, r.totalRetrans = 2, 1 }, nil,
			func(t *testing.T, s *connsig.Signal) {
				if s.HandshakeRTT != 0 || s.Retransmits != 1 {
					t.Errorf("HandshakeRTT %d, Retransmits %d", s.HandshakeRTT, s.Retransmits)
				}
			}},
		{"cookie", func(r *testRecord) { r.flags |= flagCookie }, nil,
			func(t *testing.T, s *connsig.Signal) {
				if !s.SYNCookie {
					t.Errorf("SYNCookie false")
				}
			}},
		{"no syn", func(r *testRecord) { r.flags &^= flagSYN }, nil,
			func(t *testing.T, s *connsig.Signal) {
				if s.SYNSource != connsig.SourceNone || s.IPVersion != 0 || s.TimingSource != connsig.SourceEBPF {
					t.Errorf("SYNSource %v IPVersion %d TimingSource %v", s.SYNSource, s.IPVersion, s.TimingSource)
				}
			}},
		{"unparsable syn", func(r *testRecord) { r.syn = []byte{0x45, 0} }, nil,
			func(t *testing.T, s *connsig.Signal) {
				if s.SYNSource != connsig.SourceNone || s.TimingSource != connsig.SourceEBPF {
					t.Errorf("SYNSource %v TimingSource %v", s.SYNSource, s.TimingSource)
				}
			}},
		{"no min rtt sample", func(r *testRecord) { r.rttMin = noMinRTT }, nil,
			func(t *testing.T, s *connsig.Signal) {
				if s.MinRTT != 0 {
					t.Errorf("MinRTT %d", s.MinRTT)
				}
			}},
		{"ack before syn-ack", func(r *testRecord) { r.ackNs = 1 }, nil,
			func(t *testing.T, s *connsig.Signal) {
				if s.HandshakeRTT != 0 {
					t.Errorf("HandshakeRTT %d", s.HandshakeRTT)
				}
			}},
		{"listener marker", func(r *testRecord) { *r = testRecord{version: recordVersion, flags: flagListener} }, ErrNotEstablished, nil},
		{"version 2", func(r *testRecord) { r.version = 2 }, ErrRecordVersion, nil},
		{"syn length past buffer", func(r *testRecord) { r.synLen = synMax + 1 }, ErrBadRecord, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := establishedRecord()
			tt.mod(&r)
			var s connsig.Signal
			s.Reset()
			err := decodeRecord(r.encode(), &s)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("decodeRecord = %v, want %v", err, tt.wantErr)
			}
			if err != nil && s.TimingSource != connsig.SourceNone {
				t.Errorf("error %v but TimingSource %v", err, s.TimingSource)
			}
			if tt.check != nil {
				tt.check(t, &s)
			}
		})
	}
	var s connsig.Signal
	if err := decodeRecord(make([]byte, recordSize-1), &s); !errors.Is(err, ErrShortRecord) {
		t.Errorf("short record: %v", err)
	}
}
