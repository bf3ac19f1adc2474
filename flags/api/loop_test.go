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
//
// The RequestCtx keeps its response body buffer across requests, as the
// contexts of a fasthttp.Server do unless Server.ReduceMemoryUsage is set
// (server.go sets the private keepBodyBuffer from it). Without that, a bare
// RequestCtx returns the buffer to a bytebufferpool.Pool on every Reset,
// and the pool drops buffers above its calibrated 95th-percentile size:
// answers much larger than the ones that calibrated it (350 flags after
// the small test set) then cost 2 to 3 allocations for regrowing the body.
func handlerLoopBytes(h *Handler, bs [][]byte, headers ...string) (func(), *fasthttp.RequestCtx) {
	ctx := new(fasthttp.RequestCtx)
	ctx.Response.KeepBodyBuffer = true
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
