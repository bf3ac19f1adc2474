package tlshello

import "errors"

// Sentinel errors returned by Parse. Compare with errors.Is: a malformed
// hello returns one of the package's pre-declared field errors, which match
// ErrMalformed, so no error allocates.
var (
	// ErrNeedMore means the bytes so far are a valid beginning of a
	// ClientHello that is not complete yet: call Parse again with more.
	ErrNeedMore = errors.New("tlshello: incomplete ClientHello, need more bytes")
	// ErrNotTLS means the connection does not start with a TLS handshake
	// record (first byte not 0x16, or a record version other than 3.x): a
	// plain-HTTP request, an SSLv2-style hello or other protocol.
	ErrNotTLS = errors.New("tlshello: not a TLS handshake record")
	// ErrTooLarge means the ClientHello's records would take more than
	// MaxHelloBytes.
	ErrTooLarge = errors.New("tlshello: ClientHello larger than 16 KiB")
	// ErrMalformed is matched by every error that names a malformed part of
	// the records or the ClientHello.
	ErrMalformed = errors.New("tlshello: malformed ClientHello")
)

// fieldError is a malformed ClientHello, naming the part at fault.
type fieldError struct{ msg string }

func (e *fieldError) Error() string        { return "tlshello: malformed ClientHello: " + e.msg }
func (e *fieldError) Is(target error) bool { return target == ErrMalformed }

// Field errors, pre-declared so that a failing Parse allocates nothing.
var (
	errRecordType    = &fieldError{"non-handshake record inside the ClientHello"}
	errRecordVersion = &fieldError{"record version is not 3.x"}
	errRecordEmpty   = &fieldError{"empty handshake record"}
	errHandshakeType = &fieldError{"first handshake message is not a client_hello"}
	errTrailing      = &fieldError{"data after the ClientHello in its last record"}
	errShortBody     = &fieldError{"ClientHello body shorter than its fixed fields"}
	errSessionID     = &fieldError{"session_id longer than 32 bytes or truncated"}
	errCipherSuites  = &fieldError{"cipher_suites length odd or truncated"}
	errCompression   = &fieldError{"compression_methods truncated"}
	errExtensions    = &fieldError{"extensions length does not match the ClientHello"}
	errExtension     = &fieldError{"extension header or data truncated"}
	errDuplicateExt  = &fieldError{"duplicate extension"}
	errServerName    = &fieldError{"server_name extension"}
	errHostName      = &fieldError{"server_name host_name empty, over 255 bytes, not printable ASCII or ending in a dot"}
	errALPN          = &fieldError{"application_layer_protocol_negotiation extension"}
	errSigAlgs       = &fieldError{"signature_algorithms extension"}
	errGroups        = &fieldError{"supported_groups extension"}
	errPointFormats  = &fieldError{"ec_point_formats extension"}
	errVersions      = &fieldError{"supported_versions extension"}
)
