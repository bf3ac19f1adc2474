package main

import (
	"bufio"
	"strings"
	"testing"
	"time"
)

func TestReadResponse(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		status   int
		n        int64 // bytes consumed; -1: all of in
		err      bool
		rest     string // what must remain unread (keep-alive)
	}{
		{"content-length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloNEXT", 200, -1, false, "NEXT"},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3;x=y\r\nabc\r\n0\r\nT: v\r\n\r\nNEXT", 200, -1, false, "NEXT"},
		{"until EOF", "HTTP/1.0 404 Not Found\r\n\r\nbody", 404, -1, false, ""},
		{"304 has no body", "HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\nNEXT", 304, -1, false, "NEXT"},
		{"no reason phrase", "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", 200, -1, false, ""},
		{"LF only", "HTTP/1.1 200 OK\nContent-Length: 2\n\nok", 200, -1, false, ""},
		{"short body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 200, 0, true, ""},
		{"bad status", "HTTP/1.1 2x0 OK\r\n\r\n", 0, 0, true, ""},
		{"not HTTP", "SSH-2.0-OpenSSH\r\n", 0, 0, true, ""},
		{"bad length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", 200, 0, true, ""},
		{"bad chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 200, 0, true, ""},
		{"chunk without CRLF", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n0\r\n\r\n", 200, 0, true, ""},
		{"header without colon", "HTTP/1.1 200 OK\r\nbroken\r\n\r\n", 200, 0, true, ""},
		{"truncated headers", "HTTP/1.1 200 OK\r\nContent-", 200, 0, true, ""},
		{"huge length", "HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n", 200, 0, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			br := bufio.NewReaderSize(strings.NewReader(tc.in), 64)
			status, n, err := readResponse(br)
			if (err != nil) != tc.err {
				t.Fatalf("err = %v, want error %v", err, tc.err)
			}
			if tc.err {
				return
			}
			if status != tc.status {
				t.Errorf("status = %d, want %d", status, tc.status)
			}
			if want := int64(len(tc.in) - len(tc.rest)); n != want {
				t.Errorf("consumed %d bytes, want %d", n, want)
			}
			rest, _ := br.Peek(br.Buffered())
			if string(rest) != tc.rest && br.Buffered() > 0 {
				t.Errorf("left %q unread, want %q", rest, tc.rest)
			}
		})
	}
}

func TestReadResponseLongLine(t *testing.T) {
	in := "HTTP/1.1 200 OK\r\nX: " + strings.Repeat("a", 10<<10) + "\r\n\r\n"
	if _, _, err := readResponse(bufio.NewReaderSize(strings.NewReader(in), 16<<10)); err == nil {
		t.Fatal("a 10 KiB header line was accepted")
	}
	if _, _, err := readResponse(bufio.NewReaderSize(strings.NewReader(in), 4<<10)); err == nil {
		t.Fatal("a header line longer than the buffer was accepted")
	}
}

func FuzzReadResponse(f *testing.F) {
	f.Add("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
	f.Add("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
	f.Add("HTTP/1.0 404 Not Found\r\n\r\nbody")
	f.Add("HTTP/1.1 304 Not Modified\r\n\r\n")
	f.Fuzz(func(t *testing.T, in string) {
		br := bufio.NewReaderSize(strings.NewReader(in), 128)
		status, n, err := readResponse(br)
		if n < 0 || n > int64(len(in)) {
			t.Fatalf("consumed %d bytes of %d", n, len(in))
		}
		if err == nil && (status < 100 || status > 999) {
			t.Fatalf("status %d without an error", status)
		}
	})
}

func TestPercentile(t *testing.T) {
	if got := percentile(nil, 99); got != 0 {
		t.Fatalf("percentile(nil) = %v", got)
	}
	s := make([]time.Duration, 100)
	for i := range s {
		s[i] = time.Duration(i + 1)
	}
	for p, want := range map[float64]time.Duration{50: 50, 90: 90, 99: 99, 100: 100, 0: 1} {
		if got := percentile(s, p); got != want {
			t.Errorf("percentile(1..100, %g) = %d, want %d", p, got, want)
		}
	}
}

func TestParseFlags(t *testing.T) {
	bad := [][]string{
		{"-mode", "nope"},
		{"-mode", "handshake", "-tls", "none"},
		{"-mode", "http", "-resume"},
		{"-d", "61s"},
		{"-c", "0"},
		{"-tls", "1.1"},
		{"-curves", "x448"},
		{"-path", "x"},
		{"-H", "novalue"},
		{"extra"},
	}
	for _, args := range bad {
		if _, err := parseFlags(args); err == nil {
			t.Errorf("parseFlags(%q) accepted", args)
		}
	}
	c, err := parseFlags([]string{"-mode", "http", "-tls", "none", "-H", "Authorization: tok", "-path", "/api/frontend"})
	if err != nil {
		t.Fatal(err)
	}
	req := string(c.requestBytes(false))
	if want := "GET /api/frontend HTTP/1.1\r\nHost: 127.0.0.1:8443\r\nUser-Agent: tlsload\r\nAuthorization: tok\r\n\r\n"; req != want {
		t.Errorf("request = %q, want %q", req, want)
	}
}
