package api

import (
	"encoding/json"
	"reflect"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"

	"github.com/brink-edge/brink/flags"
)

var (
	healthBody = []byte(`{"status":"OK"}`)
	readyBody  = []byte(`{"status":"READY"}`)
)

// serveBackstage answers /internal-backstage/*.
func (h *Handler) serveBackstage(ctx *fasthttp.RequestCtx, st *reqState, rt route) {
	switch rt {
	case routeHealth:
		writeRaw(ctx, healthBody)
	case routeReady:
		if !h.ready() {
			h.rejectNotReady(ctx, rt)
			return
		}
		writeRaw(ctx, readyBody)
	case routeMetrics:
		ctx.SetStatusCode(fasthttp.StatusOK)
		ctx.SetContentType("text/plain; version=0.0.4; charset=utf-8")
		st.sw.b = st.body[:0]
		metrics.WritePrometheus(&st.sw, true)
		st.body = st.sw.b
		st.sw.b = nil
		ctx.SetBody(st.body)
	case routeTokens:
		writeJSON(ctx, h.tokenInfo())
	case routeFeatures:
		writeJSON(ctx, h.featuresByEnv())
	case routeMetricsBatch:
		writeJSON(ctx, h.metrics.Snapshot())
	case routeInstanceData:
		writeJSON(ctx, h.instanceData())
	}
}

func writeRaw(ctx *fasthttp.RequestCtx, body []byte) {
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentTypeBytes(contentJSON)
	ctx.SetBody(body)
}

// tokenInfo is the /internal-backstage/tokens answer in Unleash Edge's
// shape: the refreshes of edge mode (Config.TokenRefreshes; [] offline),
// the valid tokens anonymised, and the count of invalid or pending ones.
type tokenInfo struct {
	TokenRefreshes        any           `json:"tokenRefreshes"`
	TokenValidationStatus []flags.Token `json:"tokenValidationStatus"`
	InvalidTokenCount     int           `json:"invalidTokenCount"`
}

func (h *Handler) tokenInfo() tokenInfo {
	info := tokenInfo{TokenRefreshes: []struct{}{}, TokenValidationStatus: []flags.Token{}}
	if h.cfg.TokenRefreshes != nil {
		if r := h.cfg.TokenRefreshes(); r != nil {
			if rv := reflect.ValueOf(r); rv.Kind() != reflect.Slice || !rv.IsNil() {
				info.TokenRefreshes = r
			}
		}
	}
	for _, t := range h.cfg.Tokens.All() {
		if t.Status == flags.TokenValidated || t.Status == flags.TokenTrusted {
			t.Raw = t.Anonymised()
			info.TokenValidationStatus = append(info.TokenValidationStatus, t)
		} else {
			info.InvalidTokenCount++
		}
	}
	return info
}

// featuresByEnv is the /internal-backstage/features answer: the source
// payload of every published environment; the fallback state shared by
// all environments (offline mode) is under "".
func (h *Handler) featuresByEnv() map[string]*flags.ClientFeatures {
	out := map[string]*flags.ClientFeatures{}
	for env, snap := range h.cfg.Store.Environments() {
		if snap != nil && snap.Plan != nil {
			out[env] = snap.Plan.Source()
		}
	}
	return out
}

// instanceSelf is this instance in the /internal-backstage/instancedata
// answer (a subset of Unleash Edge's EdgeInstanceData).
type instanceSelf struct {
	Identifier                string            `json:"identifier"`
	AppName                   string            `json:"appName"`
	Region                    *string           `json:"region"`
	EdgeVersion               string            `json:"edgeVersion"`
	Started                   time.Time         `json:"started"`
	ConnectedStreamingClients int               `json:"connectedStreamingClients"`
	ConnectedEdges            []json.RawMessage `json:"connectedEdges"`
}

func (h *Handler) instanceData() any {
	connected := h.instances.all()
	return struct {
		ThisInstance       instanceSelf      `json:"this_instance"`
		ConnectedInstances []json.RawMessage `json:"connected_instances"`
	}{
		ThisInstance: instanceSelf{
			Identifier:                h.cfg.InstanceID,
			AppName:                   h.cfg.AppName,
			EdgeVersion:               h.cfg.Version,
			Started:                   h.started,
			ConnectedStreamingClients: h.Streams(),
			ConnectedEdges:            connected,
		},
		ConnectedInstances: connected,
	}
}
