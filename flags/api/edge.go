package api

import (
	"encoding/json"

	"github.com/valyala/fasthttp"

	"github.com/brink-edge/brink/flags"
)

// serveValidate answers POST /edge/validate {"tokens":[...]} with the
// tokens of the list that the token cache knows as valid (Validated or
// Trusted), in the Unleash shape {"tokens":[{"token", "type",
// "environment", "projects", "status"}]}. Trusted tokens are reported as
// Validated, the status every Unleash Edge release understands. No token
// is needed to call it.
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
	seen := make(map[string]bool, len(req.Tokens))
	for _, raw := range req.Tokens {
		t, ok := h.cfg.Tokens.Get(raw)
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
