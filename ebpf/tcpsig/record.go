package tcpsig

import (
	"encoding/binary"
	"errors"

	"github.com/brink-edge/brink/connsig"
)

// The layout of struct record in sockops.c (little-endian, no padding), kept
// in step with it by TestRecordLayout against the bpf2go-generated type.
const (
	offSYNNs        = 0
	offSYNACKNs     = 8
	offSYNACKLastNs = 16
	offACKNs        = 24
	offSRTT         = 32
	offMdev         = 36
	offRTTMin       = 40
	offMSS          = 44
	offTotalRetrans = 48
	offSYNACKs      = 52
	offVersion      = 54
	offFlags        = 55
	offSYNLen       = 56
	offSYN          = 64
	synMax          = 128
	recordSize      = offSYN + synMax

	recordVersion = 1
)

// Record flags (enum in sockops.c).
const (
	flagSYN         = 1 << 0
	flagTruncated   = 1 << 1
	flagCookie      = 1 << 2
	flagEstablished = 1 << 3
	flagListener    = 1 << 4
	flagRequest     = 1 << 5
)

// noMinRTT is the kernel's "no sample yet" minimum RTT (minmax reset to ~0U).
const noMinRTT = ^uint32(0)

// decodeRecord decodes the record of an accepted socket (the bytes of struct
// record, from its slot or its sk_storage) into s's timing, RTT and SYN fields and sets
// TimingSource, and SYNSource when the SYN parsed (a SYN whose options are
// malformed counts: its header fields are kept). It reads only within b and
// allocates nothing. It returns ErrShortRecord, ErrRecordVersion,
// ErrNotEstablished or ErrBadRecord, leaving s's timing fields unset then.
func decodeRecord(b []byte, s *connsig.Signal) error {
	if len(b) < recordSize {
		return ErrShortRecord
	}
	if b[offVersion] != recordVersion {
		return ErrRecordVersion
	}
	flags := b[offFlags]
	if flags&flagEstablished == 0 {
		return ErrNotEstablished
	}
	synLen := int(binary.LittleEndian.Uint16(b[offSYNLen:]))
	if synLen > synMax {
		return ErrBadRecord
	}
	le := binary.LittleEndian
	s.SYNTime = int64(le.Uint64(b[offSYNNs:]))
	s.SYNACKTime = int64(le.Uint64(b[offSYNACKNs:]))
	s.ACKTime = int64(le.Uint64(b[offACKNs:]))
	// One SYN-ACK only: after a retransmit the ACK may answer either (Karn).
	if le.Uint16(b[offSYNACKs:]) == 1 && s.SYNACKTime > 0 && s.ACKTime > s.SYNACKTime {
		s.HandshakeRTT = s.ACKTime - s.SYNACKTime
	} else {
		s.HandshakeRTT = 0
	}
	s.RTT = le.Uint32(b[offSRTT:])
	s.RTTVar = le.Uint32(b[offMdev:])
	s.MinRTT = le.Uint32(b[offRTTMin:])
	if s.MinRTT == noMinRTT {
		s.MinRTT = 0
	}
	s.MSS = le.Uint32(b[offMSS:])
	s.Retransmits = le.Uint32(b[offTotalRetrans:])
	s.SYNCookie = flags&flagCookie != 0
	s.TimingSource = connsig.SourceEBPF
	s.SYNSource = connsig.SourceNone
	if flags&flagSYN == 0 {
		return nil
	}
	err := connsig.ParseSYN(b[offSYN:offSYN+synLen], s)
	if err == nil || errors.Is(err, connsig.ErrBadOption) {
		s.SYNSource = connsig.SourceEBPF
	}
	return nil
}
