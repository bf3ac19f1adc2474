package api

import (
	"encoding/json"
	"net/netip"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/brink-edge/brink/flags"
)

// serveFrontend answers the frontend API: the evaluated toggles of the
// token's scope for the request context (enabled ones only unless all),
// or the single toggle name when name is not empty.
func (h *Handler) serveFrontend(ctx *fasthttp.RequestCtx, st *reqState, rt route, tok *flags.Token, peer netip.Addr, all bool, name string) {
	snap := h.snapshotFor(ctx, rt, tok)
	if snap == nil {
		return
	}
	c := &st.fctx
	if ctx.IsPost() {
		if err := parsePostContext(c, ctx.PostBody()); err != nil {
			h.rejectWith(ctx, rt, reasonBadBody, fasthttp.StatusBadRequest, err.Error())
			return
		}
	} else if err := parseQueryContext(c, ctx.QueryArgs()); err != nil {
		h.rejectWith(ctx, rt, reasonBadQuery, fasthttp.StatusBadRequest, err.Error())
		return
	}
	if c.Has&flags.HasRemoteAddress == 0 {
		if a := h.clientAddr(ctx, peer); a.IsValid() {
			st.ip = a.AppendTo(st.ip[:0])
			c.RemoteAddress = b2s(st.ip)
			c.Has |= flags.HasRemoteAddress
		}
	}
	if sig := connSignal(ctx); sig != nil {
		addSignalProperties(c, st, sig)
	}
	sc := h.scopeFor(st, snap, tok)
	if name != "" {
		body, ok := snap.Plan.AppendFrontendFeature(st.body[:0], sc, name, c)
		st.body = body
		if !ok {
			h.reject(ctx, rt, reasonNoFeature, fasthttp.StatusNotFound)
			return
		}
		countEvaluations(1)
		h.writeDynamic(ctx, st, body)
		return
	}
	st.body = snap.Plan.AppendFrontend(st.body[:0], sc, c, all)
	countEvaluations(sc.Len())
	h.writeDynamic(ctx, st, st.body)
}

// notHydratedExplanation is Unleash Edge's text for a frontend token
// without data.
const notHydratedExplanation = "Edge does not yet have data for this token. Please make a call against /api/client/features with a client token that has the same access as your token"

// rejectNotHydrated answers 511 Network Authentication Required with a
// body naming the project and environment a client token is needed for.
func (h *Handler) rejectNotHydrated(ctx *fasthttp.RequestCtx, rt route, tok *flags.Token) {
	env := tok.Environment
	if env == "" {
		env = "default"
	}
	body, _ := json.Marshal(struct {
		Explanation string `json:"explanation"`
		Access      struct {
			Project     string `json:"project"`
			Environment string `json:"environment"`
		} `json:"access"`
	}{
		Explanation: notHydratedExplanation,
		Access: struct {
			Project     string `json:"project"`
			Environment string `json:"environment"`
		}{strings.Join(tok.Projects, ","), env},
	})
	ctx.SetStatusCode(fasthttp.StatusNetworkAuthenticationRequired)
	ctx.SetContentTypeBytes(contentJSON)
	ctx.SetBody(body)
	h.rejects.note(ctx, rt, reasonNotHydrated, fasthttp.StatusNetworkAuthenticationRequired, "project="+strings.Join(tok.Projects, ",")+" environment="+env)
}
