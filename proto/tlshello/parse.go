package tlshello

import "slices"

const (
	recordHeaderLen     = 5
	maxRecordLen        = 1 << 14 // TLSPlaintext.length limit (RFC 8446 §5.1)
	recordTypeHandshake = 0x16
	typeClientHello     = 1
)

// Parse parses the ClientHello at the start of b, the bytes received so far
// on a connection (from its first byte). The hello may span several records
// and any number of reads: Parse returns ErrNeedMore until all its records
// are in b, so a caller calls it again, from offset 0, after each read.
// On success Len reports the bytes of b the records took; bytes after them
// are not looked at. Other errors are final: ErrNotTLS, ErrTooLarge, or an
// error matching ErrMalformed that names the field at fault. Parse never
// keeps a reference to b, never panics, and allocates nothing once h's
// storage has grown to the size of the hellos it sees.
func (h *Hello) Parse(b []byte) error {
	h.Reset()
	need, end, err := scanRecords(b)
	if err != nil {
		return err
	}
	// Copy the handshake message out of its records.
	if cap(h.buf) < need {
		h.buf = make([]byte, 0, (need+1023)&^1023)
	}
	buf := h.buf[:0]
	for off := 0; off < end; {
		rlen := int(b[off+3])<<8 | int(b[off+4])
		buf = append(buf, b[off+recordHeaderLen:off+recordHeaderLen+rlen]...)
		off += recordHeaderLen + rlen
	}
	h.buf = buf
	if err := h.parseBody(buf[4:]); err != nil {
		h.Reset()
		return err
	}
	h.n = end
	return nil
}

// scanRecords walks the handshake records at the start of b without copying
// and returns the ClientHello message's length (header included) and the
// offset where its last record ends, or why it cannot.
func scanRecords(b []byte) (need, end int, err error) {
	if len(b) == 0 {
		return 0, 0, ErrNeedMore
	}
	// A TLS record starts 0x16 0x03 0x00-0x04 (SSL 3.0 to TLS 1.3 record
	// versions; clients send 0x0301 or 0x0303).
	if b[0] != recordTypeHandshake || len(b) > 1 && b[1] != 3 || len(b) > 2 && b[2] > 4 {
		return 0, 0, ErrNotTLS
	}
	var hdr [4]byte // the handshake header, which may itself span records
	nhdr, got := 0, 0
	need = -1
	off := 0
	for need < 0 || got < need {
		if len(b)-off < recordHeaderLen {
			if off+recordHeaderLen > MaxHelloBytes {
				return 0, 0, ErrTooLarge
			}
			if len(b) > off && b[off] != recordTypeHandshake {
				return 0, 0, errRecordType
			}
			return 0, 0, ErrNeedMore
		}
		if b[off] != recordTypeHandshake {
			return 0, 0, errRecordType
		}
		if b[off+1] != 3 {
			return 0, 0, errRecordVersion
		}
		rlen := int(b[off+3])<<8 | int(b[off+4])
		if rlen == 0 {
			return 0, 0, errRecordEmpty
		}
		if rlen > maxRecordLen || off+recordHeaderLen+rlen > MaxHelloBytes {
			return 0, 0, ErrTooLarge
		}
		frag := b[off+recordHeaderLen : min(off+recordHeaderLen+rlen, len(b))]
		for i := 0; nhdr < 4 && i < len(frag); i++ {
			hdr[nhdr] = frag[i]
			nhdr++
		}
		if nhdr == 4 && need < 0 {
			if hdr[0] != typeClientHello {
				return 0, 0, errHandshakeType
			}
			need = 4 + (int(hdr[1])<<16 | int(hdr[2])<<8 | int(hdr[3]))
			// At least one record header more than the message itself.
			if need > MaxHelloBytes-recordHeaderLen {
				return 0, 0, ErrTooLarge
			}
		}
		if len(frag) < rlen {
			return 0, 0, ErrNeedMore
		}
		got += rlen
		off += recordHeaderLen + rlen
	}
	if got > need {
		return 0, 0, errTrailing
	}
	return need, off, nil
}

// reader reads big-endian fields from a byte slice; a read past the end
// reports false.
type reader struct {
	b   []byte
	off int // offset of b[0] in Hello.buf, for spans
}

func (r *reader) u8() (uint8, bool) {
	if len(r.b) < 1 {
		return 0, false
	}
	v := r.b[0]
	r.skip(1)
	return v, true
}

func (r *reader) u16() (uint16, bool) {
	if len(r.b) < 2 {
		return 0, false
	}
	v := uint16(r.b[0])<<8 | uint16(r.b[1])
	r.skip(2)
	return v, true
}

func (r *reader) skip(n int) {
	r.b = r.b[n:]
	r.off += n
}

// sub splits off the next n bytes as a reader of their own.
func (r *reader) sub(n int) (reader, bool) {
	if n > len(r.b) {
		return reader{}, false
	}
	s := reader{b: r.b[:n], off: r.off}
	r.skip(n)
	return s, true
}

// vec8 and vec16 split off a vector with a 1- or 2-byte length prefix.
func (r *reader) vec8() (reader, bool) {
	n, ok := r.u8()
	if !ok {
		return reader{}, false
	}
	return r.sub(int(n))
}

func (r *reader) vec16() (reader, bool) {
	n, ok := r.u16()
	if !ok {
		return reader{}, false
	}
	return r.sub(int(n))
}

func (r *reader) span() span { return span{uint16(r.off), uint16(r.off + len(r.b))} }

// uint16s appends the rest of r as big-endian uint16s; an odd length fails.
func (r *reader) uint16s(dst []uint16) ([]uint16, bool) {
	if len(r.b)%2 != 0 {
		return dst, false
	}
	for i := 0; i < len(r.b); i += 2 {
		dst = append(dst, uint16(r.b[i])<<8|uint16(r.b[i+1]))
	}
	r.skip(len(r.b))
	return dst, true
}

// parseBody parses the ClientHello body (RFC 8446 §4.1.2), which starts at
// offset 4 of h.buf.
func (h *Hello) parseBody(body []byte) error {
	r := reader{b: body, off: 4}
	var ok bool
	if h.legacyVer, ok = r.u16(); !ok || len(r.b) < 32 {
		return errShortBody
	}
	r.skip(32) // random
	sid, ok := r.vec8()
	if !ok || len(sid.b) > 32 {
		return errSessionID
	}
	h.sessionID = sid.span()
	cs, ok := r.vec16()
	if !ok {
		return errCipherSuites
	}
	if h.ciphers, ok = cs.uint16s(h.ciphers); !ok {
		return errCipherSuites
	}
	cm, ok := r.vec8()
	if !ok {
		return errCompression
	}
	h.compress = cm.span()
	if len(r.b) == 0 {
		return nil // no extensions (TLS 1.0-era clients)
	}
	exts, ok := r.vec16()
	if !ok || len(r.b) != 0 {
		return errExtensions
	}
	for len(exts.b) > 0 {
		typ, ok := exts.u16()
		if !ok {
			return errExtension
		}
		data, ok := exts.vec16()
		if !ok {
			return errExtension
		}
		h.exts = append(h.exts, typ)
		if err := h.parseExtension(typ, data); err != nil {
			return err
		}
	}
	// RFC 8446 §4.2: no two extensions of one type. Sorting a copy finds
	// repeats in O(n log n) without a set.
	h.sorted = append(h.sorted[:0], h.exts...)
	slices.Sort(h.sorted)
	for i := 1; i < len(h.sorted); i++ {
		if h.sorted[i] == h.sorted[i-1] {
			return errDuplicateExt
		}
	}
	return nil
}

func (h *Hello) parseExtension(typ uint16, d reader) error {
	switch typ {
	case ExtServerName:
		return h.parseServerName(d)
	case ExtALPN:
		h.hasALPN = true
		list, ok := d.vec16()
		if !ok || len(d.b) != 0 {
			return errALPN
		}
		for len(list.b) > 0 {
			p, ok := list.vec8()
			if !ok {
				return errALPN
			}
			h.alpn = append(h.alpn, p.span())
		}
	case ExtSignatureAlgorithms:
		h.hasSig = true
		list, ok := d.vec16()
		if !ok || len(d.b) != 0 {
			return errSigAlgs
		}
		if h.sigAlgs, ok = list.uint16s(h.sigAlgs); !ok {
			return errSigAlgs
		}
	case ExtSupportedGroups:
		list, ok := d.vec16()
		if !ok || len(d.b) != 0 {
			return errGroups
		}
		if h.groups, ok = list.uint16s(h.groups); !ok {
			return errGroups
		}
	case ExtECPointFormats:
		list, ok := d.vec8()
		if !ok || len(d.b) != 0 {
			return errPointFormats
		}
		h.points = append(h.points, list.b...)
	case ExtSupportedVersions:
		h.hasVers = true
		list, ok := d.vec8()
		if !ok || len(d.b) != 0 {
			return errVersions
		}
		if h.versions, ok = list.uint16s(h.versions); !ok {
			return errVersions
		}
	}
	return nil
}

// parseServerName reads the server_name extension (RFC 6066 §3): one
// host_name at most (other name types are skipped), printable ASCII with no
// trailing dot, as crypto/tls requires.
func (h *Hello) parseServerName(d reader) error {
	h.hasSNI = true
	if len(d.b) == 0 {
		return nil // the empty form a server echoes; tolerated from a client
	}
	list, ok := d.vec16()
	if !ok || len(d.b) != 0 {
		return errServerName
	}
	seen := false
	for len(list.b) > 0 {
		nameType, ok := list.u8()
		if !ok {
			return errServerName
		}
		name, ok := list.vec16()
		if !ok {
			return errServerName
		}
		if nameType != 0 {
			continue
		}
		if seen {
			return errServerName
		}
		seen = true
		if !validHostName(name.b) {
			return errHostName
		}
		h.sni = name.span()
	}
	return nil
}

func validHostName(b []byte) bool {
	if len(b) == 0 || len(b) > 255 || b[len(b)-1] == '.' {
		return false
	}
	for _, c := range b {
		if c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}
