package connsig

import "errors"

// Sentinel errors returned by ParseSYN. Callers compare with errors.Is; they
// are never wrapped on the hot path.
var (
	// ErrShortPacket means the bytes end inside the IP or TCP header.
	ErrShortPacket = errors.New("connsig: syn truncated")
	// ErrIPVersion means the first nibble is neither 4 nor 6.
	ErrIPVersion = errors.New("connsig: not an ipv4 or ipv6 header")
	// ErrHeaderLength means an IPv4 IHL, an IPv6 extension header length or
	// the TCP data offset is out of range.
	ErrHeaderLength = errors.New("connsig: bad header length")
	// ErrNotTCP means the IP payload is not TCP (or an IPv6 extension
	// header chain is too long to follow).
	ErrNotTCP = errors.New("connsig: not a tcp segment")
	// ErrNotSYN means the TCP header lacks the SYN flag.
	ErrNotSYN = errors.New("connsig: not a syn")
	// ErrBadOption means a TCP option's length byte is missing, below 2 or
	// runs past the header. ParseSYN keeps the header fields and the options
	// before the bad one (a known option with the wrong length is no error:
	// its kind is listed and its value ignored, as the kernel does).
	ErrBadOption = errors.New("connsig: malformed tcp option")
)
