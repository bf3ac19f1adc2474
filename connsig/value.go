package connsig

import "strconv"

// Property names for AppendValue: the flag-context properties a Signal
// provides (see the package doc for their formats).
const (
	PropTCPRTTMs       = "tcpRttMs"
	PropHandshakeRTTMs = "handshakeRttMs"
	PropTCPMinRTTMs    = "tcpMinRttMs"
	PropSYNTTL         = "synTtl"
	PropSYNWindow      = "synWindow"
	PropSYNMSS         = "synMss"
	PropSYNWScale      = "synWscale"
	PropSYNFingerprint = "synFingerprint"
	PropCaptureSource  = "captureSource"
	PropTLSJA4         = "tlsJa4"
	PropTLSJA3         = "tlsJa3"
	PropTLSVersion     = "tlsVersion"
	PropTLSHandshakeMs = "tlsHandshakeMs"
	PropSNI            = "sni"
)

// PropertyNames lists the names AppendValue knows, in the package doc's
// order. Do not modify it.
var PropertyNames = [...]string{
	PropTCPRTTMs, PropHandshakeRTTMs, PropTCPMinRTTMs, PropSYNTTL, PropSYNWindow,
	PropSYNMSS, PropSYNWScale, PropSYNFingerprint, PropCaptureSource,
	PropTLSJA4, PropTLSJA3, PropTLSVersion, PropTLSHandshakeMs, PropSNI,
}

// AppendValue appends the flag-context property name of s as text and
// reports whether s has it: false for an unknown name and for a value that
// was not captured (a zero RTT, no SYN, no window scale option, no TLS or
// no SNI), in which case dst is returned unchanged. Milliseconds are decimal with at most
// three fraction digits and no trailing zeros ("0.021", "1.5", "12"). It
// allocates only when dst must grow.
func (s *Signal) AppendValue(dst []byte, name string) ([]byte, bool) {
	switch name {
	case PropTCPRTTMs:
		return appendMillis(dst, uint64(s.RTT))
	case PropHandshakeRTTMs:
		if s.HandshakeRTT <= 0 {
			return dst, false
		}
		return appendMillis(dst, uint64(s.HandshakeRTT/1000))
	case PropTCPMinRTTMs:
		return appendMillis(dst, uint64(s.MinRTT))
	case PropCaptureSource:
		return append(dst, s.CaptureSource().String()...), true
	}
	if out, ok, handled := s.TLS.appendValue(dst, name); handled {
		return out, ok
	}
	if s.IPVersion == 0 {
		return dst, false
	}
	switch name {
	case PropSYNTTL:
		return strconv.AppendUint(dst, uint64(s.TTL), 10), true
	case PropSYNWindow:
		return strconv.AppendUint(dst, uint64(s.Window), 10), true
	case PropSYNMSS:
		if s.SYNMSS == 0 {
			return dst, false
		}
		return strconv.AppendUint(dst, uint64(s.SYNMSS), 10), true
	case PropSYNWScale:
		if s.WScale < 0 {
			return dst, false
		}
		return strconv.AppendInt(dst, int64(s.WScale), 10), true
	case PropSYNFingerprint:
		return s.AppendFingerprint(dst), true
	}
	return dst, false
}

// appendMillis appends us microseconds as decimal milliseconds; 0 is
// "not captured".
func appendMillis(dst []byte, us uint64) ([]byte, bool) {
	if us == 0 {
		return dst, false
	}
	dst = strconv.AppendUint(dst, us/1000, 10)
	frac := us % 1000
	if frac == 0 {
		return dst, true
	}
	digits := [3]byte{byte('0' + frac/100), byte('0' + frac/10%10), byte('0' + frac%10)}
	n := 3
	for digits[n-1] == '0' {
		n--
	}
	dst = append(dst, '.')
	return append(dst, digits[:n]...), true
}
