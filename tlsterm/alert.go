package tlsterm

import "github.com/brink-edge/brink/loop"

// TLS alert descriptions (RFC 8446 §6) sent on the loop before any
// handshake.
const (
	alertRecordOverflow   = 22
	alertDecodeError      = 50
	alertInternalError    = 80
	alertUserCanceled     = 90
	alertUnrecognizedName = 112
)

// alert writes a fatal alert record and closes the connection.
func (s *Server) alert(c *loop.Conn, desc byte) (int, loop.Action) {
	rec := alertRecord(desc)
	_, _ = c.Write(rec[:])
	return 0, loop.Close
}

// alertRecord is the TLS record of a fatal alert with description desc.
func alertRecord(desc byte) [7]byte {
	return [7]byte{0x15, 0x03, 0x03, 0x00, 0x02, 0x02, desc}
}

// plainHTTPAnswer answers an HTTP request sent to the TLS port, as nginx
// does, so that a misconfigured client learns why.
const plainHTTPAnswer = "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: 49\r\n\r\nthis port speaks HTTPS: use https:// to reach it\n"

// looksHTTP reports whether in starts like an HTTP/1 request line.
func looksHTTP(in []byte) bool {
	for i, c := range in {
		switch {
		case c == ' ':
			return i >= 3
		case c < 'A' || c > 'Z' || i >= 10:
			return false
		}
	}
	return false
}
