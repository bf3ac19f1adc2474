package tlsterm

import (
	"bytes"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"
)

// ACMEPrefix is the path prefix of ACME HTTP-01 challenges.
const ACMEPrefix = "/.well-known/acme-challenge/"

// RedirectConfig configures RedirectHandler.
type RedirectConfig struct {
	// HTTPSPort is the port of the redirect targets; zero or 443 leaves it
	// out of the URL.
	HTTPSPort int
	// ACMEBackend, when set, is a host:port that ACMEPrefix requests are
	// proxied to (a certificate tool answering HTTP-01 challenges); empty
	// means they get 404.
	ACMEBackend string
	// ACMETimeout bounds a proxied challenge. Zero means 10 s.
	ACMETimeout time.Duration
}

// RedirectHandler returns the handler of the plain-HTTP listener (port
// 80): every request gets a 308 to the same host, path and query over
// HTTPS, except ACME challenges (see RedirectConfig). A request without a
// usable Host gets 400.
func RedirectHandler(cfg RedirectConfig) (fasthttp.RequestHandler, error) {
	if cfg.ACMETimeout <= 0 {
		cfg.ACMETimeout = 10 * time.Second
	}
	var acme *fasthttp.HostClient
	if cfg.ACMEBackend != "" {
		if _, _, err := net.SplitHostPort(cfg.ACMEBackend); err != nil {
			return nil, fmt.Errorf("tlsterm: ACME backend %q: %w", cfg.ACMEBackend, err)
		}
		acme = &fasthttp.HostClient{Addr: cfg.ACMEBackend, Name: "brink", NoDefaultUserAgentHeader: true}
	}
	port := ""
	if cfg.HTTPSPort != 0 && cfg.HTTPSPort != 443 {
		port = ":" + strconv.Itoa(cfg.HTTPSPort)
	}
	return func(ctx *fasthttp.RequestCtx) {
		path := ctx.URI().PathOriginal()
		if bytes.HasPrefix(path, []byte(ACMEPrefix)) {
			if acme == nil {
				ctx.Error("no ACME challenge is served here", fasthttp.StatusNotFound)
				return
			}
			if err := acme.DoTimeout(&ctx.Request, &ctx.Response, cfg.ACMETimeout); err != nil {
				ctx.Error("ACME challenge backend unavailable", fasthttp.StatusBadGateway)
			}
			return
		}
		host := hostOnly(ctx.Host())
		if host == nil {
			ctx.Error("missing or invalid Host header", fasthttp.StatusBadRequest)
			return
		}
		var buf [512]byte
		u := append(buf[:0], "https://"...)
		u = append(u, host...)
		u = append(u, port...)
		u = append(u, ctx.RequestURI()...)
		ctx.Response.Header.Set("Cache-Control", "no-store")
		ctx.RedirectBytes(u, fasthttp.StatusPermanentRedirect)
	}, nil
}

// hostOnly returns the host of a Host header without its port, or nil
// when it holds characters a host name or IP literal cannot.
func hostOnly(h []byte) []byte {
	if len(h) == 0 || len(h) > 255 {
		return nil
	}
	if h[0] == '[' { // IPv6 literal
		i := bytes.IndexByte(h, ']')
		if i < 0 {
			return nil
		}
		for _, c := range h[1:i] {
			if !(c == ':' || c == '.' || '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return nil
			}
		}
		return h[:i+1]
	}
	if i := bytes.IndexByte(h, ':'); i >= 0 {
		h = h[:i]
	}
	for _, c := range h {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_') {
			return nil
		}
	}
	if len(h) == 0 {
		return nil
	}
	return h
}
