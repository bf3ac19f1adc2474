package tcpsig

import "errors"

// Sentinel errors. Capture returns them unwrapped (no allocation); Open wraps
// its causes with context at start-up.
var (
	// ErrUnimplemented is returned on systems other than Linux.
	ErrUnimplemented = errors.New("tcpsig: not implemented on this system")
	// ErrShortRecord means a record is shorter than the C struct record.
	ErrShortRecord = errors.New("tcpsig: record too short")
	// ErrRecordVersion means a record's version is not the one this code
	// decodes (a stale object file or a foreign map).
	ErrRecordVersion = errors.New("tcpsig: unknown record version")
	// ErrNotEstablished means the record is not an accepted connection's
	// (a listener's marker, or PASSIVE_ESTABLISHED never ran).
	ErrNotEstablished = errors.New("tcpsig: record of no accepted connection")
	// ErrBadRecord means a record's SYN length is out of range.
	ErrBadRecord = errors.New("tcpsig: malformed record")
)
