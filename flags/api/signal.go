package api

import (
	"github.com/valyala/fasthttp"

	"github.com/brink-edge/brink/connsig"
	"github.com/brink-edge/brink/flags"
)

// DefaultSignalPath is where a caller reads its own connection signal.
const DefaultSignalPath = "/signal"

// connSignal returns the signal of the request's connection, or nil when
// the connection carries none (no capture, or a server that does not
// provide it).
func connSignal(ctx *fasthttp.RequestCtx) *connsig.Signal {
	if c, ok := ctx.Conn().(connsig.Carrier); ok {
		return c.Signal()
	}
	return nil
}

// serveSignal answers the caller's own connection signal as JSON
// (connsig's documented fields), 404 when the connection carries none.
func (h *Handler) serveSignal(ctx *fasthttp.RequestCtx, st *reqState) {
	s := connSignal(ctx)
	if s == nil {
		ctx.SetStatusCode(fasthttp.StatusNotFound)
		ctx.SetContentType("application/json")
		ctx.SetBodyString(`{"error":"no connection signal: capture is off or this listener does not record it"}`)
		return
	}
	st.body = s.AppendJSON(st.body[:0])
	ctx.SetContentType("application/json")
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.SetBody(st.body)
}

// addSignalProperties puts the connection signal into the frontend
// context as properties (tcpRttMs, synTtl, ...; connsig.PropertyNames) so
// constraints such as `tcpRttMs NUM_GT 150` work. The measured values
// replace properties of the same names sent by the caller: a client must
// not be able to forge its own signal. The values are written into st.sig
// first and sliced afterwards, so the strings stay valid.
func addSignalProperties(c *flags.Context, st *reqState, s *connsig.Signal) {
	var ends [len(connsig.PropertyNames)]int
	var have [len(connsig.PropertyNames)]bool
	buf := st.sig[:0]
	for i, name := range connsig.PropertyNames {
		buf, have[i] = s.AppendValue(buf, name)
		ends[i] = len(buf)
	}
	st.sig = buf
	start := 0
	for i, name := range connsig.PropertyNames {
		if have[i] {
			c.SetProperty(name, b2s(buf[start:ends[i]]))
		}
		start = ends[i]
	}
}
