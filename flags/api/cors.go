package api

import (
	"slices"
	"strconv"
	"strings"

	"github.com/valyala/fasthttp"
)

// Vary members an answer may need.
const (
	varyOrigin uint8 = 1 << iota
	varyEncoding
)

var varyValues = [4]string{"", "Origin", "Accept-Encoding", "Origin, Accept-Encoding"}

// setVary writes the Vary header for the members in v.
func setVary(ctx *fasthttp.RequestCtx, v uint8) {
	if v != 0 {
		ctx.Response.Header.Set("Vary", varyValues[v&3])
	}
}

// corsPolicy is a CORSConfig with its header values prepared once.
type corsPolicy struct {
	anyOrigin bool
	origins   []string
	methods   string // "" mirrors the request
	headers   string // "" mirrors the request
	expose    string
	maxAge    string // "" omits the header
}

func newCORSPolicy(c CORSConfig) corsPolicy {
	p := corsPolicy{
		anyOrigin: len(c.Origins) == 0 || slices.Contains(c.Origins, "*"),
		methods:   strings.Join(c.Methods, ", "),
		headers:   strings.Join(c.AllowedHeaders, ", "),
	}
	for _, o := range c.Origins {
		if o = strings.TrimSpace(o); o != "" && o != "*" {
			p.origins = append(p.origins, strings.TrimRight(o, "/"))
		}
	}
	expose := []string{"ETag"}
	for _, e := range c.ExposedHeaders {
		if e = strings.TrimSpace(e); e != "" && !strings.EqualFold(e, "etag") {
			expose = append(expose, e)
		}
	}
	p.expose = strings.Join(expose, ", ")
	switch {
	case c.MaxAge == 0:
		p.maxAge = strconv.Itoa(DefaultCORSMaxAge)
	case c.MaxAge > 0:
		p.maxAge = strconv.Itoa(c.MaxAge)
	}
	return p
}

// apply adds the CORS headers of an answer to a request with an allowed
// Origin and returns the Vary members the answer needs.
func (p *corsPolicy) apply(ctx *fasthttp.RequestCtx) uint8 {
	origin := ctx.Request.Header.Peek("Origin")
	if len(origin) == 0 {
		if p.anyOrigin {
			return 0
		}
		return varyOrigin
	}
	h := &ctx.Response.Header
	if p.anyOrigin {
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Access-Control-Expose-Headers", p.expose)
		return 0
	}
	if !slices.Contains(p.origins, b2s(origin)) {
		return varyOrigin
	}
	h.SetBytesV("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Expose-Headers", p.expose)
	return varyOrigin
}

// preflight answers an OPTIONS request with 204 and the allowed methods,
// headers and max age. apply has already set the origin headers.
func (p *corsPolicy) preflight(ctx *fasthttp.RequestCtx) {
	ctx.SetStatusCode(fasthttp.StatusNoContent)
	ctx.Response.ResetBody()
	h := &ctx.Response.Header
	if len(h.Peek("Access-Control-Allow-Origin")) == 0 {
		return
	}
	if p.methods != "" {
		h.Set("Access-Control-Allow-Methods", p.methods)
	} else if m := ctx.Request.Header.Peek("Access-Control-Request-Method"); len(m) > 0 {
		h.SetBytesV("Access-Control-Allow-Methods", m)
	} else {
		h.Set("Access-Control-Allow-Methods", "GET, HEAD, POST, OPTIONS")
	}
	if p.headers != "" {
		h.Set("Access-Control-Allow-Headers", p.headers)
	} else if rh := ctx.Request.Header.Peek("Access-Control-Request-Headers"); len(rh) > 0 {
		h.SetBytesV("Access-Control-Allow-Headers", rh)
	}
	if p.maxAge != "" {
		h.Set("Access-Control-Max-Age", p.maxAge)
	}
}
