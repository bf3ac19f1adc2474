package http1

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http/httputil"
	"net/textproto"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// FuzzRespFrameHead parses random heads whole and in two pieces: it must
// never panic, the two results must agree, n stays within b, and an
// accepted head's client head is accepted again with the same framing.
func FuzzRespFrameHead(f *testing.F) {
	for _, tt := range respHeadTests {
		f.Add([]byte(tt.in), uint16(len(tt.in)/2), tt.head)
	}
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"), uint16(20), false)
	f.Add(respTypical, uint16(100), false)
	f.Add(respTypicalChunked, uint16(7), true)
	f.Fuzz(func(t *testing.T, b []byte, split uint16, head bool) {
		var whole RespFrame
		whole.Reset(head)
		n, err := whole.ParseHead(b, 0)
		if n < 0 || n > len(b) || (err != nil && n != 0) {
			t.Fatalf("ParseHead(%q) = %d, %v", b, n, err)
		}

		var parts RespFrame
		parts.Reset(head)
		cut := min(int(split), len(b))
		n2, err2 := parts.ParseHead(b[:cut], 0)
		if err2 == nil && n2 == 0 {
			n2, err2 = parts.ParseHead(b, 0)
		}
		if n2 != n || (err2 == nil) != (err == nil) {
			t.Fatalf("ParseHead(%q) = %d, %v; cut at %d: %d, %v", b, n, err, cut, n2, err2)
		}
		if err != nil || n == 0 {
			return
		}
		parts.scan, whole.scan = 0, 0
		if parts != whole {
			t.Fatalf("ParseHead(%q) = %+v; cut at %d: %+v", b, whole, cut, parts)
		}
		if whole.Framing == FramingClose && whole.KeepAlive {
			t.Fatalf("ParseHead(%q): keep-alive with close framing", b)
		}

		// A bound below the head's size refuses it; one at its size accepts it.
		var limited RespFrame
		limited.Reset(head)
		if _, err := limited.ParseHead(b, n-1); n > 1 && !errors.Is(err, ErrRespHeadTooLarge) {
			t.Fatalf("ParseHead(%q, %d) = %v, want %v", b, n-1, err, ErrRespHeadTooLarge)
		}
		limited.Reset(head)
		if m, err := limited.ParseHead(b, n); m != n || err != nil {
			t.Fatalf("ParseHead(%q, %d) = %d, %v", b, n, m, err)
		}

		client := whole.AppendClientHead(nil, b[:n], split%2 == 0)
		var again RespFrame
		again.Reset(head)
		m, err := again.ParseHead(client, 0)
		if err != nil || m != len(client) {
			t.Fatalf("client head %q of %q: %d, %v", client, b[:n], m, err)
		}
		if again.Status != whole.Status || again.Interim != whole.Interim {
			t.Fatalf("client head %q of %q: status %d, want %d", client, b[:n], again.Status, whole.Status)
		}
		if bytes.HasPrefix(b, []byte("HTTP/1.0")) && bytes.Contains(bytes.ToLower(b[:n]), []byte("transfer-encoding")) {
			return // close-delimited by §6.1, with the upstream's Transfer-Encoding kept
		}
		if again.Framing != whole.Framing || again.Length != whole.Length {
			t.Fatalf("client head %q of %q: framing %v %d, want %v %d", client, b[:n],
				again.Framing, again.Length, whole.Framing, whole.Length)
		}
		// No hop-by-hop field reaches the client: an oracle built with
		// strings and maps.
		hop := map[string]bool{"connection": true, "keep-alive": true, "proxy-connection": true,
			"proxy-authenticate": true, "proxy-authorization": true, "te": true, "trailer": true, "upgrade": true}
		for _, l := range strings.Split(string(b[:n]), "\n")[1:] {
			name, value, _ := strings.Cut(strings.TrimSuffix(l, "\r"), ":")
			if strings.EqualFold(name, "connection") {
				for _, tok := range strings.Split(value, ",") {
					if tok = strings.ToLower(strings.Trim(tok, " \t")); tok != "content-length" && tok != "transfer-encoding" {
						hop[tok] = true
					}
				}
			}
		}
		lines := strings.Split(strings.TrimSuffix(string(client), "\r\n\r\n"), "\r\n")[1:]
		for i, l := range lines {
			name, _, _ := strings.Cut(l, ":")
			if hop[strings.ToLower(name)] && (l != "Connection: close" || i != len(lines)-1) {
				t.Fatalf("client head %q of %q: hop-by-hop field %q forwarded", client, b[:n], l)
			}
		}
	})
}

// respBWS finds whitespace before a chunk extension.
var respBWS = regexp.MustCompile("[0-9a-fA-F][ \t]+;")

// FuzzRespFrameBody frames random bodies (chunked, and Content-Length
// when length is set) whole, in two pieces and a byte at a time: never a
// panic, n within its piece, the same total, done and error each way. A
// chunked body accepted with CRLF line ends must end where net/http's
// chunked reader and trailer parser end it.
func FuzzRespFrameBody(f *testing.F) {
	for _, body := range respChunkedBodies {
		f.Add([]byte(body+"HTTP/1.1"), uint16(len(body)/2), uint16(0))
	}
	f.Add([]byte("5\r\nhello\r\n0\r\n\r\n"), uint16(3), uint16(7))
	f.Add([]byte("4000000000000000\r\n"), uint16(3), uint16(0))
	f.Add([]byte("007\r\n000000\r\n0\r\n\r\n"), uint16(0), uint16(0)) // bare LF after data ending in CR
	f.Add([]byte("0\r\nA: b\r\n c\r\n\r\n"), uint16(9), uint16(0))
	f.Add([]byte("5;"+strings.Repeat("e", 4095)+"\r\n"), uint16(2000), uint16(0))
	f.Fuzz(func(t *testing.T, b []byte, split, length uint16) {
		head := "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		if length > 0 {
			head = "HTTP/1.1 200 OK\r\nContent-Length: " + strconv.Itoa(int(length)) + "\r\n\r\n"
		}
		// run feeds the pieces and reports whether a line ended in a bare
		// LF (seen only when the pieces are single bytes).
		run := func(pieces ...[]byte) (total int, done, bareLF bool, err error) {
			var f RespFrame
			if _, err := f.ParseHead([]byte(head), 0); err != nil {
				t.Fatal(err)
			}
			for _, p := range pieces {
				if string(p) == "\n" && f.Framing == FramingChunked {
					switch f.st {
					case csData, csSizeCR, csDataLF, csTrailerCR, csEndLF:
					default:
						bareLF = true
					}
				}
				n, d, e := f.Body(p)
				if n < 0 || n > len(p) {
					t.Fatalf("Body(%q) consumed %d", p, n)
				}
				total += n
				if d || e != nil {
					return total, d, bareLF, e
				}
				if n != len(p) {
					t.Fatalf("Body(%q) = %d, not done and no error", p, n)
				}
			}
			return total, false, bareLF, nil
		}
		n, done, _, err := run(b)
		if done && err != nil {
			t.Fatalf("Body(%q) done with %v", b, err)
		}
		cut := min(int(split), len(b))
		if n2, done2, _, err2 := run(b[:cut], b[cut:]); n2 != n || done2 != done || (err2 == nil) != (err == nil) {
			t.Fatalf("Body(%q) = %d, %v, %v; cut at %d: %d, %v, %v", b, n, done, err, cut, n2, done2, err2)
		}
		ones := make([][]byte, len(b))
		for i := range b {
			ones[i] = b[i : i+1]
		}
		n1, done1, bareLF, err1 := run(ones...)
		if n1 != n || done1 != done || (err1 == nil) != (err == nil) {
			t.Fatalf("Body(%q) = %d, %v, %v; a byte at a time: %d, %v, %v", b, n, done, err, n1, done1, err1)
		}
		if length > 0 {
			if want := min(int(length), len(b)); n != want || done != (len(b) >= int(length)) || err != nil {
				t.Fatalf("Body(%q) with length %d = %d, %v, %v", b, length, n, done, err)
			}
			return
		}
		if !done || bareLF {
			return // net/http refuses bare LF in chunk lines
		}
		src := bytes.NewReader(b)
		br := bufio.NewReaderSize(src, 8<<10)
		if _, err := io.Copy(io.Discard, httputil.NewChunkedReader(br)); err != nil {
			if strings.Contains(err.Error(), "too large") || strings.Contains(err.Error(), "too much non-data") ||
				strings.Contains(err.Error(), "too long") {
				return // net/http's own limits: 16 hex digits, overhead, line size
			}
			if strings.Contains(err.Error(), "invalid byte in chunk length") && respBWS.Match(b[:n]) {
				return // net/http refuses the BWS that RFC 9112 §7.1.1 allows before ';'
			}
			t.Fatalf("Body accepted %q, net/http's chunked reader: %v", b[:n], err)
		}
		if _, err := textproto.NewReader(br).ReadMIMEHeader(); err != nil {
			t.Fatalf("Body accepted %q, net/http's trailer parser: %v", b[:n], err)
		}
		if stdEnd := len(b) - src.Len() - br.Buffered(); stdEnd != n {
			t.Fatalf("Body(%q) ends at %d, net/http at %d", b, n, stdEnd)
		}
	})
}
