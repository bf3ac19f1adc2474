package tlshello

import "slices"

// MaxHelloBytes bounds the bytes the ClientHello's records may take,
// record headers included (Len never exceeds it).
const MaxHelloBytes = 16 << 10

// Extension types the parser reads.
const (
	ExtServerName          = 0x0000
	ExtSupportedGroups     = 0x000a
	ExtECPointFormats      = 0x000b
	ExtSignatureAlgorithms = 0x000d
	ExtALPN                = 0x0010
	ExtSupportedVersions   = 0x002b
)

// span is a part of Hello.buf.
type span struct{ off, end uint16 }

// Hello is one parsed ClientHello. Its zero value is ready to use; a Hello
// is reused for connection after connection (Reset or Parse clears it and
// keeps its storage). The slices its accessors return point into the
// Hello's own storage: they stay valid, and unchanged, until the next Parse
// or Reset, and the caller must not modify them. A Hello is not safe for
// concurrent use.
type Hello struct {
	// buf holds the handshake message (4-byte header and body) copied out
	// of the records; it keeps its capacity across Reset.
	buf []byte
	// scratch is the fingerprints' work space (sorted lists, the strings
	// that are hashed), kept across Reset.
	scratch []byte
	sorted  []uint16

	n         int // bytes of the input the records took; 0 until parsed
	legacyVer uint16
	sessionID span
	compress  span
	sni       span
	hasSNI    bool
	hasALPN   bool
	hasSig    bool
	hasVers   bool

	ciphers  []uint16
	exts     []uint16
	sigAlgs  []uint16
	groups   []uint16
	points   []uint8
	versions []uint16
	alpn     []span
}

// Reset clears h for the next connection, keeping its storage.
func (h *Hello) Reset() {
	*h = Hello{
		buf:      h.buf[:0],
		scratch:  h.scratch[:0],
		sorted:   h.sorted[:0],
		ciphers:  h.ciphers[:0],
		exts:     h.exts[:0],
		sigAlgs:  h.sigAlgs[:0],
		groups:   h.groups[:0],
		points:   h.points[:0],
		versions: h.versions[:0],
		alpn:     h.alpn[:0],
	}
}

// Len returns how many bytes of the input the ClientHello's records took
// after a successful Parse (0 otherwise): the first byte after them is the
// client's next record.
func (h *Hello) Len() int { return h.n }

// Parsed reports whether the last Parse succeeded.
func (h *Hello) Parsed() bool { return h.n > 0 }

// Raw returns the ClientHello handshake message: its 4-byte header and body,
// reassembled from the records.
func (h *Hello) Raw() []byte {
	if h.n == 0 {
		return nil
	}
	return h.buf
}

// LegacyVersion returns the ClientHello's legacy_version field (0x0303 for
// TLS 1.2 and 1.3 clients).
func (h *Hello) LegacyVersion() uint16 { return h.legacyVer }

// SessionID returns the legacy_session_id.
func (h *Hello) SessionID() []byte { return h.bytes(h.sessionID) }

// CompressionMethods returns the legacy_compression_methods.
func (h *Hello) CompressionMethods() []byte { return h.bytes(h.compress) }

// CipherSuites returns the offered cipher suites in wire order, GREASE
// values included.
func (h *Hello) CipherSuites() []uint16 { return h.ciphers }

// Extensions returns the extension types in wire order, GREASE included.
func (h *Hello) Extensions() []uint16 { return h.exts }

// HasExtension reports whether the ClientHello carries extension typ.
func (h *Hello) HasExtension(typ uint16) bool { return slices.Contains(h.exts, typ) }

// SignatureAlgorithms returns the signature_algorithms list in wire order
// (nil without the extension).
func (h *Hello) SignatureAlgorithms() []uint16 { return h.sigAlgs }

// SupportedGroups returns the supported_groups list in wire order.
func (h *Hello) SupportedGroups() []uint16 { return h.groups }

// PointFormats returns the ec_point_formats list in wire order.
func (h *Hello) PointFormats() []uint8 { return h.points }

// SupportedVersions returns the supported_versions list in wire order,
// GREASE included (nil without the extension).
func (h *Hello) SupportedVersions() []uint16 { return h.versions }

// ServerName returns the server_name extension's host_name as sent (not
// lower-cased; printable ASCII without a trailing dot, which Parse checks),
// or nil when the client sent none.
func (h *Hello) ServerName() []byte {
	if !h.hasSNI || h.sni.end == h.sni.off {
		return nil
	}
	return h.bytes(h.sni)
}

// NumALPN returns how many protocols the ALPN extension offers.
func (h *Hello) NumALPN() int { return len(h.alpn) }

// ALPN returns the i-th offered protocol (wire order).
func (h *Hello) ALPN(i int) []byte { return h.bytes(h.alpn[i]) }

// HasALPN reports whether the client offers protocol p.
func (h *Hello) HasALPN(p string) bool {
	for _, s := range h.alpn {
		if string(h.bytes(s)) == p {
			return true
		}
	}
	return false
}

// MaxVersion returns the highest TLS version the client offers: the
// highest non-GREASE supported_versions entry when the extension is present
// (0 if it holds only GREASE), else legacy_version. This is JA4's version.
func (h *Hello) MaxVersion() uint16 {
	if !h.hasVers {
		return h.legacyVer
	}
	var v uint16
	for _, x := range h.versions {
		if !IsGREASE(x) && x > v {
			v = x
		}
	}
	return v
}

// IsGREASE reports whether v is one of the reserved GREASE values of RFC
// 8701 (0x0a0a, 0x1a1a, ... 0xfafa).
func IsGREASE(v uint16) bool { return v&0x0f0f == 0x0a0a && v>>8 == v&0xff }

func (h *Hello) bytes(s span) []byte { return h.buf[s.off:s.end:s.end] }
