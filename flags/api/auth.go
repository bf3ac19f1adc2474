package api

import (
	"bytes"

	"github.com/valyala/fasthttp"

	"github.com/brink-edge/brink/flags"
)

// authorize reads the token header, looks the token up and applies Unleash
// Edge's rules:
//
//   - no token, or one not in the cache: 403 (Edge rejects both in its
//     token extractor and validator with 403);
//   - status Unknown (validation pending): 401; Invalid: 403;
//   - a client token only on client routes ("client/" paths), a frontend
//     token only on /frontend and /proxy routes, both on the frontend
//     metrics and register routes; an untyped token anywhere; an admin
//     token nowhere: 403.
//
// It answers the rejection itself and reports false.
func (h *Handler) authorize(ctx *fasthttp.RequestCtx, rt route) (flags.Token, bool) {
	raw := bytes.TrimSpace(ctx.Request.Header.Peek(h.tokenHeader))
	if len(raw) == 0 {
		h.reject(ctx, rt, reasonNoToken, fasthttp.StatusForbidden)
		return flags.Token{}, false
	}
	tok, ok := h.cfg.Tokens.Get(b2s(raw))
	if !ok {
		h.reject(ctx, rt, reasonUnknownToken, fasthttp.StatusForbidden)
		return flags.Token{}, false
	}
	switch tok.Status {
	case flags.TokenUnknown:
		h.reject(ctx, rt, reasonTokenPending, fasthttp.StatusUnauthorized)
		return flags.Token{}, false
	case flags.TokenInvalid:
		h.reject(ctx, rt, reasonTokenInvalid, fasthttp.StatusForbidden)
		return flags.Token{}, false
	}
	if !typeAllowed(tok.Type, rt.info().kind) {
		h.reject(ctx, rt, reasonTokenPath, fasthttp.StatusForbidden)
		return flags.Token{}, false
	}
	return tok, true
}

// typeAllowed is the token-type path rule.
func typeAllowed(t flags.TokenType, k routeKind) bool {
	switch t {
	case flags.TokenUntyped:
		return true
	case flags.TokenClient:
		return k == kindClient || k == kindIngest
	case flags.TokenFrontend:
		return k == kindFrontend || k == kindIngest
	}
	return false
}
