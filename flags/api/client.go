package api

import (
	"github.com/valyala/fasthttp"

	"github.com/brink-edge/brink/flags"
)

// snapshotFor returns the flag state that answers tok, or nil after
// answering the rejection: 503 while not ready, else 403 for client routes
// and 511 for frontend routes when there is no state covering the token.
func (h *Handler) snapshotFor(ctx *fasthttp.RequestCtx, rt route, tok *flags.Token) *flags.Snapshot {
	snap := h.cfg.Store.Load(tok.Environment)
	if snap != nil && snap.Plan != nil && snap.Covers(tok) {
		return snap
	}
	if snap == nil && !h.ready() {
		h.rejectNotReady(ctx, rt)
		return nil
	}
	if rt.info().kind == kindFrontend {
		h.rejectNotHydrated(ctx, rt, tok)
		return nil
	}
	h.reject(ctx, rt, reasonNoAccess, fasthttp.StatusForbidden)
	return nil
}

// serveClientFeatures answers GET/POST /api/client/features from the
// answer cache, building the entry on the first request for its (snapshot
// version, token scope, namePrefix).
func (h *Handler) serveClientFeatures(ctx *fasthttp.RequestCtx, st *reqState, tok *flags.Token) {
	snap := h.snapshotFor(ctx, routeClientFeatures, tok)
	if snap == nil {
		return
	}
	prefix := ctx.QueryArgs().Peek("namePrefix")
	st.key = appendScopeKey(st.key[:0], snap.Version, tok)
	st.key = append(st.key, prefix...)
	e, ok := h.features.get(st.key)
	if ok {
		featureCacheHits.Inc()
	} else {
		featureCacheMisses.Inc()
		e = h.features.put(st.key, tok.Environment, snap.Version, buildFeatures(snap, tok, string(prefix)))
	}
	h.writeCached(ctx, st, e)
}

// buildFeatures serialises the client features answer of tok's scope.
func buildFeatures(snap *flags.Snapshot, tok *flags.Token, prefix string) *featureEntry {
	sc := snap.Plan.Scope(tok.Projects, prefix)
	q := &flags.Query{
		Projects:    tok.Projects,
		NamePrefix:  prefix,
		Environment: tok.Environment,
	}
	if q.Projects == nil {
		q.Projects = []string{}
	}
	e := newFeatureEntry(snap.Plan.AppendClientFeatures(nil, sc, q))
	e.features = sc.Len()
	return e
}

// writeCached answers with a cached entry: 304 on a matching
// If-None-Match, else the body in the accepted coding, without copying.
func (h *Handler) writeCached(ctx *fasthttp.RequestCtx, st *reqState, e *featureEntry) {
	resp := &ctx.Response
	resp.Header.SetBytesV("ETag", e.etag)
	compressible := h.minCompress > 0 && len(e.body) >= h.minCompress
	if compressible {
		st.vary |= varyEncoding
	}
	setVary(ctx, st.vary)
	if inm := ctx.Request.Header.Peek("If-None-Match"); len(inm) > 0 && noneMatch(inm, e.etag) {
		ctx.SetStatusCode(fasthttp.StatusNotModified)
		resp.ResetBody()
		return
	}
	countDefinitions(e.features)
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentTypeBytes(contentJSON)
	enc := encIdentity
	if compressible {
		enc = chooseEncoding(ctx.Request.Header.Peek("Accept-Encoding"))
	}
	setEncoding(resp, enc)
	resp.SetBodyRaw(e.encoded(enc))
}

// serveClientFeature answers GET /api/client/features/{name}: the single
// feature of the token's scope, or 404.
func (h *Handler) serveClientFeature(ctx *fasthttp.RequestCtx, st *reqState, tok *flags.Token, name string) {
	snap := h.snapshotFor(ctx, routeClientFeature, tok)
	if snap == nil {
		return
	}
	sc := h.scopeFor(st, snap, tok)
	body, ok := snap.Plan.AppendClientFeature(st.body[:0], sc, name)
	st.body = body
	if !ok {
		h.reject(ctx, routeClientFeature, reasonNoFeature, fasthttp.StatusNotFound)
		return
	}
	countDefinitions(1)
	h.writeDynamic(ctx, st, body)
}
