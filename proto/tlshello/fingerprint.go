package tlshello

import (
	"crypto/md5"
	"crypto/sha256"
	"slices"
	"strconv"

	"github.com/brink-edge/brink/connsig"
)

const hexDigits = "0123456789abcdef"

// AppendJA4 appends the hello's JA4 fingerprint (FoxIO's JA4, TLS client,
// always 36 characters, e.g. "t13d1516h2_8daaf6152771_e5627efa2ab1") to
// dst and returns the extended buffer; without a parsed hello it returns
// dst unchanged. The package doc gives the recipe. It uses h's scratch
// space and allocates only when dst must grow (and the first time h meets
// a hello this large).
func (h *Hello) AppendJA4(dst []byte) []byte {
	if h.n == 0 {
		return dst
	}
	// a: t, version, d/i, cipher and extension counts, ALPN.
	dst = append(dst, 't')
	dst = append(dst, ja4Version(h.MaxVersion())...)
	if h.hasSNI {
		dst = append(dst, 'd')
	} else {
		dst = append(dst, 'i')
	}
	dst = appendCount(dst, countNonGREASE(h.ciphers))
	dst = appendCount(dst, countNonGREASE(h.exts))
	dst = h.appendJA4ALPN(dst)

	// b: the sorted cipher suites.
	dst = append(dst, '_')
	h.sorted = appendNonGREASE(h.sorted[:0], h.ciphers, false)
	slices.Sort(h.sorted)
	h.scratch = appendHexList(h.scratch[:0], h.sorted)
	dst = appendTruncatedSHA256(dst, h.scratch)

	// c: the sorted extensions less SNI and ALPN, then "_" and the
	// signature algorithms in wire order when there are any.
	dst = append(dst, '_')
	h.sorted = appendNonGREASE(h.sorted[:0], h.exts, true)
	slices.Sort(h.sorted)
	h.scratch = appendHexList(h.scratch[:0], h.sorted)
	if len(h.sorted) > 0 && countNonGREASE(h.sigAlgs) > 0 {
		h.scratch = append(h.scratch, '_')
		h.sorted = appendNonGREASE(h.sorted[:0], h.sigAlgs, false)
		h.scratch = appendHexList(h.scratch, h.sorted)
	}
	return appendTruncatedSHA256(dst, h.scratch)
}

// ja4Version is JA4's two-character version code.
func ja4Version(v uint16) string {
	switch v {
	case 0x0304:
		return "13"
	case 0x0303:
		return "12"
	case 0x0302:
		return "11"
	case 0x0301:
		return "10"
	case 0x0300:
		return "s3"
	case 0x0002:
		return "s2"
	case 0xfeff:
		return "d1"
	case 0xfefd:
		return "d2"
	case 0xfefc:
		return "d3"
	}
	return "00"
}

// appendJA4ALPN appends the first and last characters of the first ALPN
// value, or the first and last hex digits of that value when either is not
// ASCII alphanumeric; "00" without ALPN or for an empty value.
func (h *Hello) appendJA4ALPN(dst []byte) []byte {
	if len(h.alpn) == 0 {
		return append(dst, '0', '0')
	}
	p := h.ALPN(0)
	if len(p) == 0 {
		return append(dst, '0', '0')
	}
	first, last := p[0], p[len(p)-1]
	if isAlnum(first) && isAlnum(last) {
		return append(dst, first, last)
	}
	return append(dst, hexDigits[first>>4], hexDigits[last&0x0f])
}

func isAlnum(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func countNonGREASE(vs []uint16) int {
	n := 0
	for _, v := range vs {
		if !IsGREASE(v) {
			n++
		}
	}
	return n
}

// appendCount appends min(n, 99) as two digits.
func appendCount(dst []byte, n int) []byte {
	n = min(n, 99)
	return append(dst, byte('0'+n/10), byte('0'+n%10))
}

// appendNonGREASE appends the non-GREASE values of vs, less SNI and ALPN
// when dropSNIALPN.
func appendNonGREASE(dst, vs []uint16, dropSNIALPN bool) []uint16 {
	for _, v := range vs {
		if IsGREASE(v) || dropSNIALPN && (v == ExtServerName || v == ExtALPN) {
			continue
		}
		dst = append(dst, v)
	}
	return dst
}

// appendHexList appends vs as 4-digit lower-case hex, comma-separated.
func appendHexList(dst []byte, vs []uint16) []byte {
	for i, v := range vs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, hexDigits[v>>12], hexDigits[v>>8&0xf], hexDigits[v>>4&0xf], hexDigits[v&0xf])
	}
	return dst
}

// appendTruncatedSHA256 appends the first 12 hex digits of SHA-256(s), or
// twelve zeros for an empty s (JA4's rule for an empty list).
func appendTruncatedSHA256(dst, s []byte) []byte {
	if len(s) == 0 {
		return append(dst, "000000000000"...)
	}
	sum := sha256.Sum256(s)
	return appendHex(dst, sum[:6])
}

func appendHex(dst, b []byte) []byte {
	for _, c := range b {
		dst = append(dst, hexDigits[c>>4], hexDigits[c&0xf])
	}
	return dst
}

// AppendJA3String appends the JA3 string of Salesforce's JA3:
// "SSLVersion,Ciphers,Extensions,EllipticCurves,EcPointFormats" with
// decimal values joined by '-' and GREASE dropped, e.g.
// "771,4865-4866-4867,0-23-65281,29-23-24,0". Without a parsed hello it
// returns dst unchanged. It allocates only when dst must grow.
func (h *Hello) AppendJA3String(dst []byte) []byte {
	if h.n == 0 {
		return dst
	}
	dst = strconv.AppendUint(dst, uint64(h.legacyVer), 10)
	dst = append(dst, ',')
	dst = appendDecimalList(dst, h.ciphers)
	dst = append(dst, ',')
	dst = appendDecimalList(dst, h.exts)
	dst = append(dst, ',')
	dst = appendDecimalList(dst, h.groups)
	dst = append(dst, ',')
	for i, p := range h.points {
		if i > 0 {
			dst = append(dst, '-')
		}
		dst = strconv.AppendUint(dst, uint64(p), 10)
	}
	return dst
}

func appendDecimalList(dst []byte, vs []uint16) []byte {
	first := true
	for _, v := range vs {
		if IsGREASE(v) {
			continue
		}
		if !first {
			dst = append(dst, '-')
		}
		first = false
		dst = strconv.AppendUint(dst, uint64(v), 10)
	}
	return dst
}

// AppendJA3 appends the JA3 fingerprint, the MD5 of AppendJA3String's
// string in 32 lower-case hex digits; without a parsed hello it returns dst
// unchanged. It uses h's scratch space and allocates only when dst must
// grow.
func (h *Hello) AppendJA3(dst []byte) []byte {
	if h.n == 0 {
		return dst
	}
	h.scratch = h.AppendJA3String(h.scratch[:0])
	sum := md5.Sum(h.scratch)
	return appendHex(dst, sum[:])
}

// FillSignal writes what the ClientHello tells into t: HelloVersion
// (MaxVersion), SNI, JA4 and JA3. It leaves the negotiated fields (Version,
// CipherSuite, ALPN, Resumed) and the times alone. Without a parsed hello
// it clears the fields it owns. It allocates nothing.
func (h *Hello) FillSignal(t *connsig.TLSSignal) {
	t.HelloVersion = h.MaxVersion()
	t.SNILen = uint8(copy(t.SNI[:], h.ServerName()))
	t.JA4 = [connsig.JA4Len]byte{}
	t.JA3 = [connsig.JA3Len]byte{}
	h.AppendJA4(t.JA4[:0])
	h.AppendJA3(t.JA3[:0])
}
