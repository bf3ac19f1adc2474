package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// Limits of readResponse: answers beyond them are errors, never a crash or
// an unbounded read.
const (
	maxLine    = 8 << 10
	maxHeaders = 100
	maxBody    = 64 << 20
)

var (
	errLongLine    = errors.New("response line longer than 8 KiB")
	errManyHeaders = errors.New("more than 100 response headers")
	errBigBody     = errors.New("response body larger than 64 MiB")
)

// readResponse reads one HTTP/1.1 answer from br and discards its body:
// Content-Length, chunked, or until EOF when neither is given. It returns
// the status code and the number of bytes the answer took.
func readResponse(br *bufio.Reader) (status int, n int64, err error) {
	line, err := readLine(br, &n)
	if err != nil {
		return 0, n, err
	}
	// "HTTP/1.1 200 OK"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return 0, n, fmt.Errorf("malformed status line %q", trunc(line))
	}
	status, err = strconv.Atoi(string(line[9:12]))
	if err != nil || status < 100 || status > 999 || (len(line) > 12 && line[12] != ' ') {
		return 0, n, fmt.Errorf("malformed status line %q", trunc(line))
	}
	length, chunked := int64(-1), false
	for i := 0; ; i++ {
		if i > maxHeaders {
			return status, n, errManyHeaders
		}
		h, err := readLine(br, &n)
		if err != nil {
			return status, n, err
		}
		if len(h) == 0 {
			break
		}
		k, v, ok := bytes.Cut(h, []byte(":"))
		if !ok {
			return status, n, fmt.Errorf("malformed header line %q", trunc(h))
		}
		v = bytes.TrimSpace(v)
		switch {
		case bytes.EqualFold(k, []byte("Content-Length")):
			l, err := strconv.ParseInt(string(v), 10, 64)
			if err != nil || l < 0 {
				return status, n, fmt.Errorf("malformed Content-Length %q", trunc(v))
			}
			length = l
		case bytes.EqualFold(k, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(v, []byte("chunked"))
		}
	}
	switch {
	case status < 200 || status == 204 || status == 304:
		return status, n, nil
	case chunked:
		return status, n, readChunked(br, &n)
	case length >= 0:
		return status, n, discard(br, length, &n)
	default:
		m, err := io.Copy(io.Discard, io.LimitReader(br, maxBody+1))
		n += m
		if err == nil && m > maxBody {
			err = errBigBody
		}
		return status, n, err
	}
}

func readChunked(br *bufio.Reader, n *int64) error {
	var total int64
	for {
		line, err := readLine(br, n)
		if err != nil {
			return err
		}
		size, _, _ := bytes.Cut(line, []byte(";"))
		sz, err := strconv.ParseInt(string(bytes.TrimSpace(size)), 16, 64)
		if err != nil || sz < 0 {
			return fmt.Errorf("malformed chunk size %q", trunc(line))
		}
		if sz == 0 {
			for i := 0; ; i++ { // trailers
				if i > maxHeaders {
					return errManyHeaders
				}
				t, err := readLine(br, n)
				if err != nil {
					return err
				}
				if len(t) == 0 {
					return nil
				}
			}
		}
		if total += sz; total > maxBody {
			return errBigBody
		}
		if err := discard(br, sz, n); err != nil {
			return err
		}
		crlf, err := readLine(br, n)
		if err != nil {
			return err
		}
		if len(crlf) != 0 {
			return fmt.Errorf("chunk of %d bytes not followed by CRLF", sz)
		}
	}
}

func discard(br *bufio.Reader, length int64, n *int64) error {
	if length > maxBody {
		return errBigBody
	}
	m, err := io.CopyN(io.Discard, br, length)
	*n += m
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// readLine returns one line without its CRLF (or LF); the slice is valid
// until the next read from br.
func readLine(br *bufio.Reader, n *int64) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	*n += int64(len(line))
	if err == bufio.ErrBufferFull || len(line) > maxLine {
		return nil, errLongLine
	}
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	line = line[:len(line)-1]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	return line, nil
}

func trunc(b []byte) string {
	if len(b) > 64 {
		return string(b[:64]) + "…"
	}
	return string(b)
}
