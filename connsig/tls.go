package connsig

// ServerName returns the SNI host name the client sent (empty when none).
func (t *TLSSignal) ServerName() []byte { return t.SNI[:min(int(t.SNILen), MaxSNI)] }

// SetServerName stores name as the SNI; a name over MaxSNI bytes is not
// stored (false).
func (t *TLSSignal) SetServerName(name []byte) bool {
	if len(name) > MaxSNI {
		t.SNILen = 0
		return false
	}
	t.SNILen = uint8(copy(t.SNI[:], name))
	return true
}

// Protocol returns the negotiated ALPN protocol (empty when none).
func (t *TLSSignal) Protocol() []byte { return t.ALPN[:min(int(t.ALPNLen), MaxALPN)] }

// SetProtocol stores p as the negotiated ALPN protocol; one over MaxALPN
// bytes is not stored (false).
func (t *TLSSignal) SetProtocol(p []byte) bool {
	if len(p) > MaxALPN {
		t.ALPNLen = 0
		return false
	}
	t.ALPNLen = uint8(copy(t.ALPN[:], p))
	return true
}

// JA4Bytes returns the JA4 fingerprint, or nil when none was computed.
func (t *TLSSignal) JA4Bytes() []byte {
	if t.JA4[0] == 0 {
		return nil
	}
	return t.JA4[:]
}

// JA3Bytes returns the JA3 fingerprint, or nil when none was computed.
func (t *TLSSignal) JA3Bytes() []byte {
	if t.JA3[0] == 0 {
		return nil
	}
	return t.JA3[:]
}

// AppendTLSVersion appends a TLS version as the JSON and the tlsVersion
// property write it: "1.3", "1.2", "1.1", "1.0", "ssl3", "0xXXXX" for
// another value, nothing for 0 (unknown). It allocates only when dst must
// grow.
func AppendTLSVersion(dst []byte, v uint16) []byte {
	switch v {
	case 0:
		return dst
	case 0x0304:
		return append(dst, "1.3"...)
	case 0x0303:
		return append(dst, "1.2"...)
	case 0x0302:
		return append(dst, "1.1"...)
	case 0x0301:
		return append(dst, "1.0"...)
	case 0x0300:
		return append(dst, "ssl3"...)
	}
	return appendHex16(dst, v)
}

// AppendCipherSuite appends a cipher suite's IANA name for the suites
// crypto/tls implements (the names tls.CipherSuiteName returns), else
// "0xXXXX", nothing for 0 (unknown). It allocates only when dst must grow.
func AppendCipherSuite(dst []byte, id uint16) []byte {
	if id == 0 {
		return dst
	}
	if name := cipherSuiteName(id); name != "" {
		return append(dst, name...)
	}
	return appendHex16(dst, id)
}

// appendHex16 appends "0x" and v in four upper-case hex digits, as
// crypto/tls names unknown versions and suites.
func appendHex16(dst []byte, v uint16) []byte {
	const digits = "0123456789ABCDEF"
	return append(dst, '0', 'x', digits[v>>12], digits[v>>8&0xf], digits[v>>4&0xf], digits[v&0xf])
}

func cipherSuiteName(id uint16) string {
	switch id {
	// TLS 1.3.
	case 0x1301:
		return "TLS_AES_128_GCM_SHA256"
	case 0x1302:
		return "TLS_AES_256_GCM_SHA384"
	case 0x1303:
		return "TLS_CHACHA20_POLY1305_SHA256"
	// TLS 1.0-1.2, secure.
	case 0xc009:
		return "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA"
	case 0xc00a:
		return "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA"
	case 0xc013:
		return "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"
	case 0xc014:
		return "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA"
	case 0xc02b:
		return "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
	case 0xc02c:
		return "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"
	case 0xc02f:
		return "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
	case 0xc030:
		return "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"
	case 0xcca8:
		return "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"
	case 0xcca9:
		return "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"
	// Insecure ones crypto/tls can still be configured with.
	case 0x0005:
		return "TLS_RSA_WITH_RC4_128_SHA"
	case 0x000a:
		return "TLS_RSA_WITH_3DES_EDE_CBC_SHA"
	case 0x002f:
		return "TLS_RSA_WITH_AES_128_CBC_SHA"
	case 0x0035:
		return "TLS_RSA_WITH_AES_256_CBC_SHA"
	case 0x003c:
		return "TLS_RSA_WITH_AES_128_CBC_SHA256"
	case 0x009c:
		return "TLS_RSA_WITH_AES_128_GCM_SHA256"
	case 0x009d:
		return "TLS_RSA_WITH_AES_256_GCM_SHA384"
	case 0xc007:
		return "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA"
	case 0xc011:
		return "TLS_ECDHE_RSA_WITH_RC4_128_SHA"
	case 0xc012:
		return "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA"
	case 0xc023:
		return "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256"
	case 0xc027:
		return "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"
	}
	return ""
}

// appendJSONString appends b as a JSON string body (without quotes): '"'
// and '\' are escaped, and every byte outside printable ASCII is written
// as \u00XX, so client-supplied bytes (SNI, ALPN) always give valid JSON
// and a non-ASCII byte reads back as the code point of its value.
func appendJSONString(dst, b []byte) []byte {
	const digits = "0123456789abcdef"
	for _, c := range b {
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20 || c >= 0x7f:
			dst = append(dst, '\\', 'u', '0', '0', digits[c>>4], digits[c&0xf])
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// appendTLSJSON appends the TLS fields of the package doc's JSON table.
func (t *TLSSignal) appendJSON(dst []byte) []byte {
	dst = append(dst, `,"tlsVersion":"`...)
	dst = AppendTLSVersion(dst, t.Version)
	dst = append(dst, `","tlsHelloVersion":"`...)
	dst = AppendTLSVersion(dst, t.HelloVersion)
	dst = append(dst, `","tlsCipher":"`...)
	dst = AppendCipherSuite(dst, t.CipherSuite)
	dst = append(dst, '"')
	dst = appendBoolField(dst, "tlsResumed", t.Resumed)
	dst = appendIntField(dst, "tlsHandshakeUs", max(t.HandshakeLatency, 0)/1000)
	dst = append(dst, `,"sni":"`...)
	dst = appendJSONString(dst, t.ServerName())
	dst = append(dst, `","alpn":"`...)
	dst = appendJSONString(dst, t.Protocol())
	dst = append(dst, `","ja4":"`...)
	dst = appendJSONString(dst, t.JA4Bytes())
	dst = append(dst, `","ja3":"`...)
	dst = appendJSONString(dst, t.JA3Bytes())
	return append(dst, '"')
}

// appendValue appends the TLS flag-context property name; handled reports
// whether name is a TLS property at all.
func (t *TLSSignal) appendValue(dst []byte, name string) (out []byte, ok, handled bool) {
	switch name {
	case PropTLSJA4:
		if b := t.JA4Bytes(); b != nil {
			return append(dst, b...), true, true
		}
	case PropTLSJA3:
		if b := t.JA3Bytes(); b != nil {
			return append(dst, b...), true, true
		}
	case PropTLSVersion:
		if t.Version != 0 {
			return AppendTLSVersion(dst, t.Version), true, true
		}
	case PropTLSHandshakeMs:
		if t.HandshakeLatency > 0 {
			dst, ok = appendMillis(dst, uint64(t.HandshakeLatency/1000))
			return dst, ok, true
		}
	case PropSNI:
		if t.SNILen != 0 {
			return append(dst, t.ServerName()...), true, true
		}
	default:
		return dst, false, false
	}
	return dst, false, true
}
