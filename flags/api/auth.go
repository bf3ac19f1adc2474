package api

import (
	"bytes"

	"github.com/valyala/fasthttp"

	"github.com/brink-edge/brink/flags"
)

// authorize reads the token header, looks the token up and applies Unleash
// Edge's rules:
//
//   - no token: 403;
//   - a token not in the cache: 403 without a Validator (Edge rejects it
//     in its token extractor and validator with 403); with one, a token
//     in the [project]:[environment].[secret] format is validated upstream
//     (see resolve) and any other string gets 403;
//   - status Unknown (validation pending, upstream unreachable or too
//     slow): 401; Invalid: 403;
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
	var verr error
	if !ok {
		if tok, ok, verr = h.resolve(raw); !ok {
			h.reject(ctx, rt, reasonUnknownToken, fasthttp.StatusForbidden)
			return flags.Token{}, false
		}
	}
	switch tok.Status {
	case flags.TokenUnknown:
		h.rejectLogged(ctx, rt, reasonTokenPending, fasthttp.StatusUnauthorized, verr)
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

// resolve asks the Validator about a token the cache does not know. It
// reports false, for a 403, when there is no Validator or raw is not in
// the Unleash format; otherwise the token has the status upstream gave it
// (TokenUnknown when upstream could not answer in time) and err says why
// validation failed, for the log. The Validator
// records its answers in the token cache, so the next request with the
// same token is a lookup again.
func (h *Handler) resolve(raw []byte) (flags.Token, bool, error) {
	if h.validations == nil {
		return flags.Token{}, false, nil
	}
	if _, err := flags.ParseToken(b2s(raw)); err != nil {
		return flags.Token{}, false, nil
	}
	tok, err := h.validations.validate(string(raw))
	return tok, true, err
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

// MayBlock reports whether serving the request may wait on the network:
// with a Validator (edge mode), a request whose token the cache does not
// know (it is validated upstream, up to the validation timeout) and POST
// /edge/validate (which validates the tokens it lists). Every other request
// is answered from memory. An event-loop server (proto/http1's Offload)
// runs such requests off the loop, so that a validation never stalls the
// loop's other connections. It allocates nothing.
func (h *Handler) MayBlock(ctx *fasthttp.RequestCtx) bool {
	if h.validations == nil {
		return false
	}
	if bytes.HasSuffix(ctx.Path(), edgeValidatePath) {
		return true
	}
	raw := bytes.TrimSpace(ctx.Request.Header.Peek(h.tokenHeader))
	if len(raw) == 0 {
		return false
	}
	_, ok := h.cfg.Tokens.Get(b2s(raw))
	return !ok
}

var edgeValidatePath = []byte("/edge/validate")
