package connsig

import "strconv"

// JSONVersion is the "version" AppendJSON writes; it changes only when a
// field changes meaning or is removed (new fields may be added within one
// version).
const JSONVersion = 1

// AppendJSON appends s as one JSON object with the stable camelCase fields
// of the package doc's table, in that order, and returns the extended
// buffer. Every field is always present; unknown values are 0, false, "" or
// [] (wscale is null when the SYN had no window scale option); the TLS
// fields are "" and 0 for a plain TCP connection. It allocates only when
// dst must grow.
func (s *Signal) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"version":`...)
	dst = strconv.AppendInt(dst, JSONVersion, 10)
	dst = appendIntField(dst, "synTimeNs", s.SYNTime)
	dst = appendIntField(dst, "synAckTimeNs", s.SYNACKTime)
	dst = appendIntField(dst, "ackTimeNs", s.ACKTime)
	dst = appendIntField(dst, "handshakeRttUs", s.HandshakeRTT/1000)
	dst = appendIntField(dst, "tcpRttUs", int64(s.RTT))
	dst = appendIntField(dst, "tcpRttVarUs", int64(s.RTTVar))
	dst = appendIntField(dst, "tcpMinRttUs", int64(s.MinRTT))
	dst = appendIntField(dst, "mss", int64(s.MSS))
	dst = appendIntField(dst, "retransmits", int64(s.Retransmits))
	dst = appendIntField(dst, "ipVersion", int64(s.IPVersion))
	dst = appendIntField(dst, "ttl", int64(s.TTL))
	dst = appendBoolField(dst, "df", s.DF)
	dst = appendIntField(dst, "window", int64(s.Window))
	if s.WScale < 0 {
		dst = append(dst, `,"wscale":null`...)
	} else {
		dst = appendIntField(dst, "wscale", int64(s.WScale))
	}
	dst = appendIntField(dst, "synMss", int64(s.SYNMSS))
	dst = appendBoolField(dst, "timestamps", s.Timestamps)
	dst = appendBoolField(dst, "sackPermitted", s.SACKPermitted)
	dst = appendBoolField(dst, "synCookie", s.SYNCookie)
	dst = append(dst, `,"options":[`...)
	for i, k := range s.options() {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = strconv.AppendUint(dst, uint64(k), 10)
	}
	dst = append(dst, `],"fingerprint":"`...)
	dst = s.AppendFingerprint(dst) // only [0-9a-z_.-]: nothing to escape
	dst = append(dst, `","timingSource":"`...)
	dst = append(dst, s.TimingSource.String()...)
	dst = append(dst, `","synSource":"`...)
	dst = append(dst, s.SYNSource.String()...)
	dst = append(dst, '"')
	dst = s.TLS.appendJSON(dst)
	return append(dst, '}')
}

func appendIntField(dst []byte, name string, v int64) []byte {
	dst = append(dst, ',', '"')
	dst = append(dst, name...)
	dst = append(dst, '"', ':')
	return strconv.AppendInt(dst, v, 10)
}

func appendBoolField(dst []byte, name string, v bool) []byte {
	dst = append(dst, ',', '"')
	dst = append(dst, name...)
	dst = append(dst, '"', ':')
	return strconv.AppendBool(dst, v)
}

// options returns the recorded option kinds.
func (s *Signal) options() []uint8 {
	return s.Options[:min(int(s.NumOptions), MaxOptions)]
}

// FingerprintVersion prefixes brink's SYN fingerprint ("b1").
const FingerprintVersion = "b1"

// AppendFingerprint appends brink's own SYN fingerprint (format b1, see the
// package doc) and returns the extended buffer; with no SYN (IPVersion 0) it
// appends nothing. It allocates only when dst must grow.
func (s *Signal) AppendFingerprint(dst []byte) []byte {
	if s.IPVersion == 0 {
		return dst
	}
	dst = append(dst, FingerprintVersion...)
	dst = append(dst, '_')
	dst = strconv.AppendUint(dst, uint64(s.IPVersion), 10)
	if s.DF {
		dst = append(dst, 'd')
	}
	dst = append(dst, '_')
	dst = strconv.AppendUint(dst, uint64(InitialTTL(s.TTL)), 10)
	dst = append(dst, '_')
	if opts := s.options(); len(opts) == 0 {
		dst = append(dst, '-')
	} else {
		for i, k := range opts {
			if i > 0 {
				dst = append(dst, '.')
			}
			dst = strconv.AppendUint(dst, uint64(k), 10)
		}
	}
	dst = append(dst, '_')
	if s.SYNMSS == 0 {
		dst = append(dst, '-')
	} else {
		dst = strconv.AppendUint(dst, uint64(s.SYNMSS), 10)
	}
	dst = append(dst, '_')
	if s.WScale < 0 {
		dst = append(dst, '-')
	} else {
		dst = strconv.AppendInt(dst, int64(s.WScale), 10)
	}
	dst = append(dst, '_')
	if s.SYNMSS != 0 && s.Window != 0 && s.Window%s.SYNMSS == 0 {
		dst = append(dst, 'm')
		return strconv.AppendUint(dst, uint64(s.Window/s.SYNMSS), 10)
	}
	return strconv.AppendUint(dst, uint64(s.Window), 10)
}

// InitialTTL guesses the TTL the sender started from: the smallest of 32,
// 64, 128 and 255 that is at least ttl (0 stays 0).
func InitialTTL(ttl uint8) uint8 {
	switch {
	case ttl == 0:
		return 0
	case ttl <= 32:
		return 32
	case ttl <= 64:
		return 64
	case ttl <= 128:
		return 128
	}
	return 255
}
