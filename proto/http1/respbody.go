package http1

import (
	"bytes"
	"fmt"
)

// The body half of RespFrame (respframe.go): the Content-Length countdown,
// the chunked machine, and the byte helpers both halves use.

// States of the chunked body machine; the zero value starts a chunk-size
// line.
const (
	csSizeStart    uint8 = iota // at a chunk-size line's first byte
	csSize                      // in the chunk size's hex digits
	csSizeWS                    // whitespace after the digits
	csExt                       // in chunk extensions
	csSizeCR                    // CR ending the chunk-size line
	csData                      // in chunk data (rem bytes left)
	csDataEnd                   // at the line end after chunk data
	csDataLF                    // CR after chunk data seen, LF due
	csTrailerStart              // at a trailer line's first byte (or the final empty line)
	csTrailerName               // in a trailer field name
	csTrailerValue              // in a trailer field value
	csTrailerCR                 // CR ending a trailer field line
	csEndLF                     // CR of the final empty line seen, LF due
	csDone
	csFailed
)

// Body takes the body bytes at the front of b (b starts right after the
// head, or after what earlier Body calls consumed). It returns n, the
// number of bytes of b that belong to this answer (the caller forwards
// b[:n] verbatim, chunk framing included), and done once the answer's last
// byte is among them. Bytes after the answer's end are not consumed: they
// are a protocol violation the caller handles by closing the upstream
// connection. FramingNone is done at once with n == 0; FramingClose
// consumes everything and is never done (the answer ends at the upstream's
// EOF). b may split anywhere, and Body does not allocate. On an error
// (wrapping ErrRespChunk, and returned again by later calls) n counts the
// valid bytes before the bad one; the answer cannot be completed.
func (f *RespFrame) Body(b []byte) (n int, done bool, err error) {
	switch f.Framing {
	case FramingNone:
		return 0, true, nil
	case FramingLength:
		if int64(len(b)) >= f.rem {
			n := int(f.rem)
			f.rem = 0
			return n, true, nil
		}
		f.rem -= int64(len(b))
		return len(b), false, nil
	case FramingClose:
		return len(b), false, nil
	}
	return f.chunked(b)
}

// chunked runs the chunked body machine over b.
func (f *RespFrame) chunked(b []byte) (int, bool, error) {
	i := 0
	for ; i < len(b); i++ {
		switch f.st {
		case csData:
			if left := int64(len(b) - i); left < f.rem {
				f.rem -= left
				return len(b), false, nil
			}
			i += int(f.rem) - 1 // the loop's i++ steps past the last data byte
			f.rem = 0
			f.st = csDataEnd
			continue
		case csDone:
			return i, true, nil
		case csFailed:
			return i, false, f.err
		}
		c := b[i]
		switch f.st {
		case csSizeStart, csSize:
			d := rfUnhex(c)
			switch {
			case d >= 0:
				if f.rem > respChunkSizeMax>>4 || f.rem<<4|int64(d) > respChunkSizeMax {
					return f.fail(i, "chunk size over 1<<62", b)
				}
				f.rem = f.rem<<4 | int64(d)
				f.st = csSize
				f.line++
			case f.st == csSizeStart:
				return f.fail(i, "chunk size without hex digits", b)
			case c == ' ' || c == '\t':
				f.st = csSizeWS
				f.line++
			case c == ';':
				f.st = csExt
				f.line++
			case c == '\r':
				f.st = csSizeCR
			case c == '\n':
				f.endSizeLine()
			default:
				return f.fail(i, "bad byte after chunk size", b)
			}
		case csSizeWS:
			switch c {
			case ' ', '\t':
				f.line++
			case ';':
				f.st = csExt
				f.line++
			case '\r':
				f.st = csSizeCR
			case '\n':
				f.endSizeLine()
			default:
				return f.fail(i, "bad byte after chunk size", b)
			}
		case csExt:
			switch {
			case c == '\r':
				f.st = csSizeCR
			case c == '\n':
				f.endSizeLine()
			case rfCtl(c):
				return f.fail(i, "control character in chunk extension", b)
			default:
				f.line++
			}
		case csSizeCR:
			if c != '\n' {
				return f.fail(i, "CR without LF in chunk-size line", b)
			}
			f.endSizeLine()
		case csDataEnd:
			switch c {
			case '\r':
				f.st = csDataLF
			case '\n':
				f.st = csSizeStart
			default:
				return f.fail(i, "chunk data not followed by CRLF", b)
			}
		case csDataLF:
			if c != '\n' {
				return f.fail(i, "chunk data not followed by CRLF", b)
			}
			f.st = csSizeStart
		case csTrailerStart:
			switch {
			case c == '\n':
				f.st = csDone
			case c == '\r':
				f.st = csEndLF
			case c == ' ' || c == '\t':
				return f.fail(i, "obs-fold in trailer", b)
			case c == ':':
				return f.fail(i, "empty trailer field name", b)
			case rfTchar[c]:
				f.st = csTrailerName
				f.line = 1
				f.trailer++
			default:
				return f.fail(i, "bad byte in trailer field name", b)
			}
		case csTrailerName:
			switch {
			case c == ':':
				f.st = csTrailerValue
			case c == ' ' || c == '\t':
				return f.fail(i, "whitespace before ':' in trailer", b)
			case !rfTchar[c]:
				return f.fail(i, "bad byte in trailer field name", b)
			}
			f.line++
			f.trailer++
		case csTrailerValue:
			switch {
			case c == '\r':
				f.st = csTrailerCR
			case c == '\n':
				f.st = csTrailerStart
			case rfCtl(c):
				return f.fail(i, "control character in trailer", b)
			default:
				f.line++
			}
			f.trailer++
		case csTrailerCR:
			if c != '\n' {
				return f.fail(i, "CR without LF in trailer", b)
			}
			f.st = csTrailerStart
			f.trailer++
		case csEndLF:
			if c != '\n' {
				return f.fail(i, "CR without LF after trailer", b)
			}
			f.st = csDone
		}
		if f.line > respChunkLineMax {
			if f.st >= csTrailerStart {
				return f.fail(i, "trailer line over 4 KiB", b)
			}
			return f.fail(i, "chunk-size line over 4 KiB", b)
		}
		if f.trailer > respTrailerMax {
			return f.fail(i, "trailer section over 16 KiB", b)
		}
	}
	return i, f.st == csDone, nil
}

// endSizeLine moves past a complete chunk-size line.
func (f *RespFrame) endSizeLine() {
	f.line = 0
	if f.rem == 0 {
		f.st = csTrailerStart
		return
	}
	f.st = csData
}

// fail makes the chunked machine's error sticky and returns it with the
// count of valid bytes before b[i].
func (f *RespFrame) fail(i int, what string, b []byte) (int, bool, error) {
	f.st = csFailed
	f.err = fmt.Errorf("%w: %s at %q", ErrRespChunk, what, rfClip(b[i:]))
	return i, false, f.err
}

// rfTchar marks the token characters of RFC 9110 §5.6.2.
var rfTchar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// rfCtl reports a control character other than HT.
func rfCtl(c byte) bool { return (c < ' ' && c != '\t') || c == 0x7f }

func rfDigit(c byte) bool { return '0' <= c && c <= '9' }

func rfUnhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

func rfToken(b []byte) bool {
	for _, c := range b {
		if !rfTchar[c] {
			return false
		}
	}
	return len(b) > 0
}

func rfLower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// rfEqualFold reports whether b equals the lower-case ASCII lower, ignoring
// case.
func rfEqualFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := range len(b) {
		if rfLower(b[i]) != lower[i] {
			return false
		}
	}
	return true
}

func rfEqualFoldBytes(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range len(a) {
		if rfLower(a[i]) != rfLower(b[i]) {
			return false
		}
	}
	return true
}

func rfTrimCR(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] == '\r' {
		return b[:len(b)-1]
	}
	return b
}

func rfTrimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// rfNextElem splits the first element, without its whitespace, off a
// comma-separated list.
func rfNextElem(list []byte) (elem, rest []byte) {
	if i := bytes.IndexByte(list, ','); i >= 0 {
		return rfTrimOWS(list[:i]), list[i+1:]
	}
	return rfTrimOWS(list), nil
}

// rfClip bounds the input quoted in an error.
func rfClip(b []byte) []byte {
	if len(b) > 48 {
		return b[:48]
	}
	return b
}
