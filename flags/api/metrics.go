package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"sync"

	"github.com/valyala/fasthttp"

	"github.com/brink-edge/brink/flags"
)

var (
	nullETag          = appendETag(nil, []byte("null"))
	nullBody          = []byte("null")
	hdrEdgeVersionKey = "X-Edge-Version"
)

// decodeBody decodes a JSON object body into v, with errors fit for a 400
// explanation.
func decodeBody(body []byte, v any) error {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return errEmptyBody
	}
	if body[0] != '{' {
		return errBodyNotObject
	}
	if err := json.Unmarshal(body, v); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return errBodyJSON
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return errors.New("body: field " + te.Field + " cannot hold a JSON " + te.Value)
		}
		return err
	}
	return nil
}

// explain turns a parsing or validation error into the explanation of a
// 400 answer.
func explain(err error) string {
	return strings.TrimPrefix(err.Error(), "flags: ")
}

// accepted answers 202. The client API answers with the JSON body null
// (Unleash Edge serialises its unit result); the frontend API with none.
func accepted(ctx *fasthttp.RequestCtx, rt route) {
	ctx.SetStatusCode(fasthttp.StatusAccepted)
	if rt.info().kind == kindClient {
		ctx.SetContentTypeBytes(contentJSON)
		ctx.Response.Header.SetBytesV("ETag", nullETag)
		ctx.SetBody(nullBody)
		return
	}
	ctx.Response.ResetBody()
}

// serveMetrics answers POST /api/client/metrics and the frontend metrics
// routes: the report is validated and counted under the token's
// environment.
func (h *Handler) serveMetrics(ctx *fasthttp.RequestCtx, rt route, tok *flags.Token) {
	var m flags.ClientMetrics
	err := decodeBody(ctx.PostBody(), &m)
	if err == nil {
		err = m.Validate()
	}
	if err != nil {
		h.rejectWith(ctx, rt, reasonBadBody, fasthttp.StatusBadRequest, explain(err))
		return
	}
	sdkReports.Inc()
	if n := h.metrics.AddMetrics(tok.Environment, &m); n > 0 {
		sdkDropped.Add(n)
	}
	accepted(ctx, rt)
}

// serveBulk answers POST /api/client/metrics/bulk, the downstream Edges'
// batched metrics and registrations.
func (h *Handler) serveBulk(ctx *fasthttp.RequestCtx, rt route, tok *flags.Token) {
	var b flags.BulkMetrics
	err := decodeBody(ctx.PostBody(), &b)
	if err == nil {
		err = b.Validate()
	}
	if err != nil {
		h.rejectWith(ctx, rt, reasonBadBody, fasthttp.StatusBadRequest, explain(err))
		return
	}
	sdkReports.Inc()
	sdkRegistrations.Add(len(b.Applications))
	if n := h.metrics.AddBulk(tok.Environment, tok.Projects, &b); n > 0 {
		sdkDropped.Add(n)
	}
	accepted(ctx, rt)
}

// serveRegister answers POST /api/client/register and the frontend
// register routes: 202 with X-Edge-Version, the registration kept for the
// next upstream post.
func (h *Handler) serveRegister(ctx *fasthttp.RequestCtx, rt route, tok *flags.Token) {
	var app flags.ClientApplication
	err := decodeBody(ctx.PostBody(), &app)
	if err == nil {
		err = app.Validate()
	}
	if err != nil {
		h.rejectWith(ctx, rt, reasonBadBody, fasthttp.StatusBadRequest, explain(err))
		return
	}
	sdkType := "backend"
	if rt == routeFrontendRegister {
		sdkType = "frontend"
	}
	sdkRegistrations.Inc()
	h.metrics.Register(app, tok.Environment, tok.Projects, sdkType)
	ctx.SetStatusCode(fasthttp.StatusAccepted)
	ctx.Response.ResetBody()
	ctx.Response.Header.Set(hdrEdgeVersionKey, h.cfg.Version)
}

// maxInstances bounds the downstream instance reports kept.
const maxInstances = 1024

// instanceStore keeps the latest self-report of each downstream Edge
// (POST /api/client/metrics/edge) for /internal-backstage/instancedata.
type instanceStore struct {
	mu    sync.Mutex
	byID  map[string]json.RawMessage
	order []string
}

func (s *instanceStore) put(id string, raw json.RawMessage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byID == nil {
		s.byID = make(map[string]json.RawMessage)
	}
	if _, ok := s.byID[id]; !ok {
		if len(s.order) >= maxInstances {
			delete(s.byID, s.order[0])
			s.order = s.order[1:]
		}
		s.order = append(s.order, id)
	}
	s.byID[id] = raw
}

func (s *instanceStore) all() []json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]json.RawMessage, 0, len(s.order))
	for _, id := range s.order {
		out = append(out, s.byID[id])
	}
	return out
}

// serveInstanceReport answers POST /api/client/metrics/edge: a downstream
// Edge's instance data, kept by identifier.
func (h *Handler) serveInstanceReport(ctx *fasthttp.RequestCtx, rt route) {
	var probe struct {
		Identifier string `json:"identifier"`
	}
	body := bytes.TrimSpace(ctx.PostBody())
	err := decodeBody(body, &probe)
	if err == nil && probe.Identifier == "" {
		err = errNoIdentifier
	}
	if err != nil {
		h.rejectWith(ctx, rt, reasonBadBody, fasthttp.StatusBadRequest, explain(err))
		return
	}
	h.instances.put(probe.Identifier, json.RawMessage(bytes.Clone(body)))
	accepted(ctx, rt)
}
