package api

import (
	"encoding/json"

	"github.com/valyala/fasthttp"

	"github.com/brink-edge/brink/flags"
)

// serveValidate answers POST /edge/validate {"tokens":[...]} with the
// tokens of the list that are valid (Validated or Trusted), in the Unleash
// shape {"tokens":[{"token", "type", "environment", "projects",
// "status"}]}, in the order asked. Tokens the cache does not know are
// asked of the Validator when there is one (those in the Unleash format,
// a few at a time, each bounded by ValidateTimeout), so a downstream Edge
// can validate its SDKs' tokens through this one (daisy chaining); without
// one, the cache alone answers. Trusted tokens are reported as Validated,
// the status every Unleash Edge release understands. No token is needed to
// call it.
func (h *Handler) serveValidate(ctx *fasthttp.RequestCtx) {
	var req struct {
		Tokens []string `json:"tokens"`
	}
	if err := decodeBody(ctx.PostBody(), &req); err != nil {
		h.rejectWith(ctx, routeEdgeValidate, reasonBadBody, fasthttp.StatusBadRequest, err.Error())
		return
	}
	out := struct {
		Tokens []flags.Token `json:"tokens"`
	}{Tokens: []flags.Token{}}
	var resolved map[string]flags.Token
	if h.validations != nil {
		var unknown []string
		asked := make(map[string]bool)
		for _, raw := range req.Tokens {
			if _, ok := h.cfg.Tokens.Get(raw); ok || asked[raw] {
				continue
			}
			if _, err := flags.ParseToken(raw); err != nil {
				continue
			}
			asked[raw] = true
			unknown = append(unknown, raw)
		}
		if len(unknown) > 0 {
			resolved = h.validations.validateMany(unknown)
		}
	}
	seen := make(map[string]bool, len(req.Tokens))
	for _, raw := range req.Tokens {
		t, ok := h.cfg.Tokens.Get(raw)
		if !ok {
			t, ok = resolved[raw]
		}
		if !ok || seen[raw] || (t.Status != flags.TokenValidated && t.Status != flags.TokenTrusted) {
			continue
		}
		seen[raw] = true
		t.Status = flags.TokenValidated
		out.Tokens = append(out.Tokens, t)
	}
	writeJSON(ctx, out)
}

// writeJSON answers 200 with v encoded by encoding/json (cold paths).
func writeJSON(ctx *fasthttp.RequestCtx, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		ctx.SetStatusCode(fasthttp.StatusInternalServerError)
		ctx.Response.ResetBody()
		return
	}
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentTypeBytes(contentJSON)
	ctx.SetBody(body)
}
