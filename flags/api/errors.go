package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// Errors returned by New.
var (
	ErrNoStore  = errors.New("api: config has no Store")
	ErrNoTokens = errors.New("api: config has no Tokens")
)

// Errors of request parsing; they are the explanation of the 400 answer.
var (
	errPropertiesNotMap = errors.New("query: properties must be given as properties[name]=value")
	errNestedProperty   = errors.New("query: properties[name] cannot be nested")
	errNestedKey        = errors.New("query: only properties[name] may use brackets")
	errBodyNotObject    = errors.New("body: a JSON object is required")
	errBodyJSON         = errors.New("body: not valid JSON")
	errEmptyBody        = errors.New("body: empty, a JSON object is required")
	errNoIdentifier     = errors.New("body: identifier is required")
)

// reason says why a request was rejected; it indexes the rejection
// counters and the log throttle.
type reason uint8

const (
	reasonNoRoute reason = iota
	reasonMethod
	reasonAddress
	reasonNoToken
	reasonUnknownToken
	reasonTokenPending
	reasonTokenInvalid
	reasonTokenPath
	reasonNoAccess
	reasonNotHydrated
	reasonNotReady
	reasonNoFeature
	reasonBadQuery
	reasonBadBody
	reasonStreamLimit
	reasonShutdown
	numReasons
)

var reasonText = [numReasons]string{
	reasonNoRoute:      "no such route",
	reasonMethod:       "method not allowed",
	reasonAddress:      "peer address not allowed",
	reasonNoToken:      "no token in the request",
	reasonUnknownToken: "unknown token",
	reasonTokenPending: "token validation pending",
	reasonTokenInvalid: "invalid token",
	reasonTokenPath:    "token type not allowed on this path",
	reasonNoAccess:     "no data covering the token's scope",
	reasonNotHydrated:  "frontend token has no data for its project and environment",
	reasonNotReady:     "not ready",
	reasonNoFeature:    "feature not found",
	reasonBadQuery:     "invalid query context",
	reasonBadBody:      "invalid request body",
	reasonStreamLimit:  "too many open streams",
	reasonShutdown:     "shutting down",
}

// reasonLabel is the Prometheus label of each reason.
var reasonLabel = [numReasons]string{
	reasonNoRoute:      "no_route",
	reasonMethod:       "method",
	reasonAddress:      "address",
	reasonNoToken:      "no_token",
	reasonUnknownToken: "unknown_token",
	reasonTokenPending: "token_pending",
	reasonTokenInvalid: "token_invalid",
	reasonTokenPath:    "token_path",
	reasonNoAccess:     "no_access",
	reasonNotHydrated:  "not_hydrated",
	reasonNotReady:     "not_ready",
	reasonNoFeature:    "no_feature",
	reasonBadQuery:     "bad_query",
	reasonBadBody:      "bad_body",
	reasonStreamLimit:  "stream_limit",
	reasonShutdown:     "shutdown",
}

// Bodies of the rejections that carry one.
var (
	notReadyBody = []byte(`{"error":"Edge is not ready to serve requests","status":"NOT_READY"}`)
	contentJSON  = []byte("application/json")
)

// reject answers status with an empty body, counts the reason and logs it
// through the throttle.
func (h *Handler) reject(ctx *fasthttp.RequestCtx, rt route, why reason, status int) {
	ctx.SetStatusCode(status)
	ctx.Response.ResetBody()
	h.rejects.note(ctx, rt, why, status, "")
}

// rejectLogged is reject with err (when not nil) in the log line.
func (h *Handler) rejectLogged(ctx *fasthttp.RequestCtx, rt route, why reason, status int, err error) {
	ctx.SetStatusCode(status)
	ctx.Response.ResetBody()
	detail := ""
	if err != nil {
		detail = err.Error()
	}
	h.rejects.note(ctx, rt, why, status, detail)
}

// rejectWith answers status with the JSON {"explanation": detail}.
func (h *Handler) rejectWith(ctx *fasthttp.RequestCtx, rt route, why reason, status int, detail string) {
	ctx.SetStatusCode(status)
	ctx.SetContentTypeBytes(contentJSON)
	body, _ := json.Marshal(struct {
		Explanation string `json:"explanation"`
	}{detail})
	ctx.SetBody(body)
	h.rejects.note(ctx, rt, why, status, detail)
}

// rejectNotReady answers 503 with Edge's NOT_READY body.
func (h *Handler) rejectNotReady(ctx *fasthttp.RequestCtx, rt route) {
	ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
	ctx.SetContentTypeBytes(contentJSON)
	ctx.SetBody(notReadyBody)
	h.rejects.note(ctx, rt, reasonNotReady, fasthttp.StatusServiceUnavailable, "")
}

// logInterval is the least time between two log lines of one reason.
const logInterval = time.Second

// rejectLog counts rejections and logs them, at most one line per reason
// per logInterval, with the number of lines suppressed since the last one.
type rejectLog struct {
	log        *slog.Logger
	last       [numReasons]atomic.Int64
	suppressed [numReasons]atomic.Uint64
}

func (r *rejectLog) note(ctx *fasthttp.RequestCtx, rt route, why reason, status int, detail string) {
	rejections[why].Inc()
	level := slog.LevelDebug
	if status >= 500 {
		level = slog.LevelInfo
	}
	if r.log == nil || !r.log.Enabled(context.Background(), level) {
		return
	}
	now := time.Now().UnixNano()
	last := r.last[why].Load()
	if now-last < int64(logInterval) || !r.last[why].CompareAndSwap(last, now) {
		r.suppressed[why].Add(1)
		return
	}
	attrs := []slog.Attr{
		slog.String("reason", reasonText[why]),
		slog.Int("status", status),
		slog.String("route", routes[rt].label),
		slog.String("method", string(ctx.Method())),
		slog.String("path", string(ctx.Path())),
		slog.String("peer", ctx.RemoteIP().String()),
	}
	if detail != "" {
		attrs = append(attrs, slog.String("detail", detail))
	}
	if n := r.suppressed[why].Swap(0); n > 0 {
		attrs = append(attrs, slog.Uint64("suppressed", n))
	}
	r.log.LogAttrs(context.Background(), level, "request rejected", attrs...)
}
