package http1

import (
	"bufio"
	"bytes"
	"net"
	"strconv"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/brink-edge/brink/flags"
	"github.com/brink-edge/brink/flags/api"
	"github.com/brink-edge/brink/loop"
)

const (
	clientToken   = "*:development.abc123"
	frontendToken = "*:development.fe123"
)

// apiHandler is the flag API over flags.GenerateDataset(n, 1).
func apiHandler(tb testing.TB, n int) *api.Handler {
	tb.Helper()
	store := new(flags.Store)
	store.Publish("", flags.Compile(flags.GenerateDataset(n, 1)), "test")
	h, err := api.New(api.Config{
		Store:  store,
		Tokens: flags.OfflineTokens([]string{clientToken}, []string{frontendToken}),
	})
	if err != nil {
		tb.Fatal(err)
	}
	return h
}

func apiRequest(uri, token, etag string) []byte {
	s := "GET " + uri + " HTTP/1.1\r\nHost: brink\r\nAuthorization: " + token + "\r\n"
	if etag != "" {
		s += "If-None-Match: " + etag + "\r\n"
	}
	return []byte(s + "\r\n")
}

func frontendURIs(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = apiRequest("/api/frontend?userId=user-"+strconv.Itoa(i)+"&properties[companyId]=bricks&appName=web", frontendToken, "")
	}
	return out
}

// offline is a Server and an offline loop connection to drive it.
type offline struct {
	s *Server
	c *loop.Conn
}

func newOffline(tb testing.TB, h fasthttp.RequestHandler) *offline {
	tb.Helper()
	s, err := New(Config{Handler: h})
	if err != nil {
		tb.Fatal(err)
	}
	c := loop.NewOffline(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4242}, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000})
	s.OnOpen(c)
	return &offline{s, c}
}

// do serves in and returns the answer bytes, failing unless all of in was
// consumed and the connection stays open.
func (o *offline) do(tb testing.TB, in []byte) []byte {
	o.c.ResetOutput()
	n, act := o.s.OnData(o.c, in)
	if n != len(in) || act != loop.Continue {
		tb.Fatalf("OnData consumed %d of %d, action %d", n, len(in), act)
	}
	return o.c.Output()
}

func readResponse(tb testing.TB, b []byte) *fasthttp.Response {
	tb.Helper()
	r := new(fasthttp.Response)
	if err := r.Read(bufioReader(b)); err != nil {
		tb.Fatalf("parsing %q: %v", b, err)
	}
	return r
}

func TestAPIOverLoop(t *testing.T) {
	h := apiHandler(t, 200)
	s := start(t, h.Handle, loop.Config{}, Config{})
	c := dial(t, s.addr)
	c.send(t, string(apiRequest("/api/frontend?userId=u1", frontendToken, "")))
	r := c.read(t)
	if r.StatusCode() != 200 || len(r.Body()) < 1000 {
		t.Fatalf("frontend: %d, %d bytes", r.StatusCode(), len(r.Body()))
	}
	c.send(t, string(apiRequest("/api/client/features", clientToken, "")))
	r = c.read(t)
	etag := string(r.Header.Peek("ETag"))
	if r.StatusCode() != 200 || etag == "" {
		t.Fatalf("client features: %d, ETag %q", r.StatusCode(), etag)
	}
	c.send(t, string(apiRequest("/api/client/features", clientToken, etag)))
	if r = c.read(t); r.StatusCode() != 304 {
		t.Fatalf("client features with ETag: %d", r.StatusCode())
	}
}

func bufioReader(b []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(b)) }
