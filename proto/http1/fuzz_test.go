package http1

import (
	"bufio"
	"bytes"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/brink-edge/brink/loop"
)

// FuzzHTTP1 feeds random bytes, in two chunks, through OnData as the loop
// would (unconsumed bytes come back first): it must never panic, consume
// more than it got, or keep a connection after asking to close it.
func FuzzHTTP1(f *testing.F) {
	seeds := []string{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
		"POST /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		"POST /p HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok",
		"GET / HTTP/1.0\r\n\r\n",
		"GET / HTTP/1.1\nHost: a\n\n",
		"HEAD / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
		"GET /stream HTTP/1.1\r\nHost: a\r\n\r\n",
		"\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s), uint16(len(s)/2))
	}
	h := func(ctx *fasthttp.RequestCtx) {
		if string(ctx.Path()) == "/stream" {
			ctx.SetBodyStreamWriter(func(w *bufio.Writer) { _, _ = w.WriteString("x") })
			return
		}
		_, _ = ctx.Write(ctx.PostBody())
	}
	s, err := New(Config{Handler: h, MaxHeaderBytes: 512, MaxBodyBytes: 1024})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte, split uint16) {
		c := loop.NewOffline(nil, nil)
		s.OnOpen(c)
		defer s.OnClose(c)
		cut := min(int(split), len(data))
		var pending []byte
		for _, chunk := range [][]byte{data[:cut], data[cut:]} {
			pending = append(pending, chunk...)
			n, act := s.OnData(c, pending)
			if n < 0 || n > len(pending) {
				t.Fatalf("consumed %d of %d", n, len(pending))
			}
			pending = pending[n:]
			if act == loop.Close || c.OfflineDetached() {
				return
			}
		}
	})
}

// FuzzHeaderEnd checks the one-pass headerEnd against the definition it
// replaced: the end of the first "\n\r\n" or "\n\n", whichever comes first.
func FuzzHeaderEnd(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET / HTTP/1.1\nHost: a\n\n",
		"GET / HTTP/1.1\r\nHost: a\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\n\n",
		"\n\n", "\n\r\n", "\n\r", "\n", "\r\n\r", "a\n\rb\n\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		want := -1
		if i := bytes.Index(b, []byte("\n\r\n")); i >= 0 {
			want = i + 3
		}
		if i := bytes.Index(b, []byte("\n\n")); i >= 0 && (want < 0 || i+2 < want) {
			want = i + 2
		}
		if got := headerEnd(b); got != want {
			t.Errorf("headerEnd(%q) = %d, want %d", b, got, want)
		}
	})
}
