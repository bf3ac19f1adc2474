package api

import (
	"bytes"
	"strconv"

	"github.com/valyala/fasthttp"

	"github.com/brink-edge/brink/flags"
)

// serveDelta answers GET /api/client/delta, the delta API of Unleash's
// SDKs and of daisy-chained Edges. If-None-Match carries the last event id
// the client has ("<id>", quotes optional, as the ETag it got): when the
// environment's event log still holds every event after it, the answer is
// those events of the token's projects (and namePrefix), or 304 when there
// are none; otherwise (no id, an id older than the log or from another
// run) a single hydration event with the token's features and every
// segment. ETag is the log's last event id, unquoted, as Unleash Edge
// sends it.
func (h *Handler) serveDelta(ctx *fasthttp.RequestCtx, st *reqState, tok *flags.Token) {
	if h.snapshotFor(ctx, routeClientDelta, tok) == nil {
		return
	}
	log := h.cfg.Store.Events(tok.Environment)
	if log == nil {
		h.rejectNotReady(ctx, routeClientDelta)
		return
	}
	v := log.View()
	f := flags.EventFilter{Projects: tok.Projects, NamePrefix: b2s(ctx.QueryArgs().Peek("namePrefix"))}
	body := append(st.body[:0], `{"events":[`...)
	n, ok := 0, false
	if id, has := parseEventID(ctx.Request.Header.Peek("If-None-Match")); has {
		body, n, ok = v.AppendSince(body, id, &f)
	}
	st.key = strconv.AppendInt(st.key[:0], int64(v.LastID()), 10)
	ctx.Response.Header.SetBytesV("ETag", st.key)
	if ok && n == 0 {
		setVary(ctx, st.vary)
		ctx.SetStatusCode(fasthttp.StatusNotModified)
		ctx.Response.ResetBody()
		return
	}
	if !ok {
		body = v.AppendHydration(body, &f)
	}
	body = append(body, "]}"...)
	st.body = body
	h.writeBody(ctx, st, body)
}

// writeBody answers 200 with the JSON body, compressed when large enough
// and accepted.
func (h *Handler) writeBody(ctx *fasthttp.RequestCtx, st *reqState, body []byte) {
	resp := &ctx.Response
	compressible := h.minCompress > 0 && len(body) >= h.minCompress
	if compressible {
		st.vary |= varyEncoding
	}
	setVary(ctx, st.vary)
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentTypeBytes(contentJSON)
	if compressible {
		if enc := chooseEncoding(ctx.Request.Header.Peek("Accept-Encoding")); enc != encIdentity {
			st.enc = compressFast(st.enc[:0], &st.sw, body, enc)
			setEncoding(resp, enc)
			resp.SetBody(st.enc)
			return
		}
	}
	resp.SetBody(body)
}

// parseEventID reads an event id from an If-None-Match or Last-Event-ID
// value: the first tag of a list, without W/ and quotes. It reports false
// for an absent or non-numeric value.
func parseEventID(v []byte) (int, bool) {
	if i := bytes.IndexByte(v, ','); i >= 0 {
		v = v[:i]
	}
	v = bytes.TrimSpace(v)
	v = bytes.TrimPrefix(v, []byte("W/"))
	v = bytes.Trim(v, `"`)
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	n := 0
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}
