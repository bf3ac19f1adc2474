package api

import (
	"net"
	"strconv"
	"testing"

	"github.com/valyala/fasthttp"
)

// handlerLoop prepares a reused RequestCtx, as fasthttp's server reuses one
// per connection, and returns a function serving the next request: the
// URIs are cycled so the query string is parsed anew every time.
func handlerLoop(tb testing.TB, h *Handler, uris []string, headers ...string) (func(), *fasthttp.RequestCtx) {
	tb.Helper()
	bs := make([][]byte, len(uris))
	for i, u := range uris {
		bs[i] = []byte(u)
	}
	return handlerLoopBytes(h, bs, headers...)
}

// handlerLoopBytes is handlerLoop over URIs already in bytes.
func handlerLoopBytes(h *Handler, bs [][]byte, headers ...string) (func(), *fasthttp.RequestCtx) {
	ctx := new(fasthttp.RequestCtx)
	ctx.SetRemoteAddr(&net.TCPAddr{IP: net.ParseIP(peerDefault), Port: 40000})
	for i := 0; i+1 < len(headers); i += 2 {
		ctx.Request.Header.Set(headers[i], headers[i+1])
	}
	i := 0
	return func() {
		ctx.Response.Reset()
		ctx.Request.SetRequestURIBytes(bs[i%len(bs)])
		i++
		h.Handle(ctx)
	}, ctx
}

func userURIs(base string, n int) []string {
	uris := make([]string, n)
	for i := range uris {
		uris[i] = base + "?userId=user-" + strconv.Itoa(i) + "&properties[companyId]=bricks&appName=web"
	}
	return uris
}
