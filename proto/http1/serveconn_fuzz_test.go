package http1

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// FuzzServeConn drives ServeConn over TCP with random client bytes (then a
// half-close) while a raw upstream answers every forwarded request with
// random bytes (then closes, or waits, as told): ServeConn must not panic,
// must return once the client is done (within the proxy's Timeout and the
// read timeout), must send only answers (the client's bytes start with an
// HTTP/1.1 status line, if any), and must give back or drop every
// upstream connection it took (the pool's open count equals its idle
// count once it returned).
func FuzzServeConn(f *testing.F) {
	for _, s := range []struct{ req, answer string }{
		{"GET /up/a HTTP/1.1\r\nHost: a\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"},
		{"GET /up/a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"},
		{"POST /up/p HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"},
		{"POST /up/p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", "HTTP/1.0 200 OK\r\n\r\nuntil close"},
		{"HEAD /up/h HTTP/1.1\r\nHost: a\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"},
		{"GET /up/a HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\ncut"},
		{"GET /up/a HTTP/1.1\r\nHost: a\r\n\r\n", "HTTP/1.1 2OO OK\r\n\r\n"},
		{"GET /up/a HTTP/1.0\r\n\r\n", "SSH-2.0\r\n"},
		{"GET /x HTTP/1.1\nHost: a\n\n", ""},
		{"\r\n\r\n", ""},
	} {
		f.Add([]byte(s.req), []byte(s.answer), true)
	}
	var (
		mu      sync.Mutex
		answer  []byte
		closeUp bool
	)
	addr, _ := scRawUpstream(f, func(_ int, c net.Conn, br *bufio.Reader) {
		for {
			if _, _, err := scReadReq(br); err != nil {
				return
			}
			mu.Lock()
			a, cl := answer, closeUp
			mu.Unlock()
			if _, err := c.Write(a); err != nil || cl {
				return
			}
		}
	})
	tu := &testUpstream{}
	s, err := New(Config{Handler: echo, MaxHeaderBytes: 1024, MaxBodyBytes: 4096,
		Proxy: &ProxyConfig{Upstream: tu, Addr: addr, Timeout: 300 * time.Millisecond, MaxAnswerHeadBytes: 2048}})
	if err != nil {
		f.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	defer ln.Close()
	pool := s.serveConns().pool
	f.Fuzz(func(t *testing.T, req, ans []byte, closeAfter bool) {
		mu.Lock()
		answer, closeUp = ans, closeAfter
		mu.Unlock()
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		sc, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- s.ServeConn(sc) }()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		start := time.Now()
		_, _ = c.Write(req)
		_ = c.(*net.TCPConn).CloseWrite()
		got, _ := io.ReadAll(c)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("ServeConn did not return")
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("ServeConn took %v", d)
		}
		if len(got) > 0 && !bytes.HasPrefix(got, []byte("HTTP/1.1 ")) {
			t.Fatalf("the client got %.40q", got)
		}
		if open, idle := pool.counts(); open != idle {
			t.Fatalf("pool: %d open, %d idle after ServeConn returned", open, idle)
		}
	})
}
