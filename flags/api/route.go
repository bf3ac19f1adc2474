package api

import (
	"strings"

	"github.com/valyala/fasthttp"
)

// route identifies an endpoint; it indexes the request metrics.
type route uint8

const (
	routeNone route = iota
	routeClientFeatures
	routeClientFeature
	routeClientMetrics
	routeClientBulk
	routeClientEdgeData
	routeClientRegister
	routeClientDelta
	routeClientStreaming
	routeFrontend
	routeFrontendAll
	routeFrontendFeature
	routeProxy
	routeProxyAll
	routeFrontendMetrics
	routeFrontendRegister
	routeEdgeValidate
	routeHealth
	routeReady
	routeMetrics
	routeTokens
	routeFeatures
	routeMetricsBatch
	routeInstanceData
	routeSignal
	numRoutes
)

// routeKind groups routes by how they are authorised and served.
type routeKind uint8

const (
	kindNone routeKind = iota
	// kindClient routes take client tokens (paths with "client/").
	kindClient
	// kindFrontend routes take frontend tokens (/frontend, /proxy paths).
	kindFrontend
	// kindIngest routes (frontend metrics and registration) take both.
	kindIngest
	kindEdge
	kindBackstage
	// kindSignal is the caller's own connection signal (no token).
	kindSignal
)

// Methods a route answers; GET routes also answer HEAD.
const (
	methodGet uint8 = 1 << iota
	methodPost
)

type routeInfo struct {
	// label is the route pattern used as the Prometheus path label.
	label   string
	kind    routeKind
	methods uint8
	allow   string
}

var routes = [numRoutes]routeInfo{
	routeNone:             {"other", kindNone, 0, ""},
	routeClientFeatures:   {"/api/client/features", kindClient, methodGet | methodPost, "GET, HEAD, POST"},
	routeClientFeature:    {"/api/client/features/{name}", kindClient, methodGet, "GET, HEAD"},
	routeClientMetrics:    {"/api/client/metrics", kindClient, methodPost, "POST"},
	routeClientBulk:       {"/api/client/metrics/bulk", kindClient, methodPost, "POST"},
	routeClientEdgeData:   {"/api/client/metrics/edge", kindClient, methodPost, "POST"},
	routeClientRegister:   {"/api/client/register", kindClient, methodPost, "POST"},
	routeClientDelta:      {"/api/client/delta", kindClient, methodGet, "GET, HEAD"},
	routeClientStreaming:  {"/api/client/streaming", kindClient, methodGet, "GET, HEAD"},
	routeFrontend:         {"/api/frontend", kindFrontend, methodGet | methodPost, "GET, HEAD, POST"},
	routeFrontendAll:      {"/api/frontend/all", kindFrontend, methodGet | methodPost, "GET, HEAD, POST"},
	routeFrontendFeature:  {"/api/frontend/features/{name}", kindFrontend, methodGet | methodPost, "GET, HEAD, POST"},
	routeProxy:            {"/api/proxy", kindFrontend, methodGet | methodPost, "GET, HEAD, POST"},
	routeProxyAll:         {"/api/proxy/all", kindFrontend, methodGet | methodPost, "GET, HEAD, POST"},
	routeFrontendMetrics:  {"/api/frontend/client/metrics", kindIngest, methodPost, "POST"},
	routeFrontendRegister: {"/api/frontend/client/register", kindIngest, methodPost, "POST"},
	routeEdgeValidate:     {"/edge/validate", kindEdge, methodPost, "POST"},
	routeHealth:           {"/internal-backstage/health", kindBackstage, methodGet, "GET, HEAD"},
	routeReady:            {"/internal-backstage/ready", kindBackstage, methodGet, "GET, HEAD"},
	routeMetrics:          {"/internal-backstage/metrics", kindBackstage, methodGet, "GET, HEAD"},
	routeTokens:           {"/internal-backstage/tokens", kindBackstage, methodGet, "GET, HEAD"},
	routeFeatures:         {"/internal-backstage/features", kindBackstage, methodGet, "GET, HEAD"},
	routeMetricsBatch:     {"/internal-backstage/metricsbatch", kindBackstage, methodGet, "GET, HEAD"},
	routeInstanceData:     {"/internal-backstage/instancedata", kindBackstage, methodGet, "GET, HEAD"},
	routeSignal:           {"/signal", kindSignal, methodGet, "GET, HEAD"},
}

func (r route) info() *routeInfo { return &routes[r] }

// allows reports whether the request method is one the route answers.
func (r route) allows(ctx *fasthttp.RequestCtx) bool {
	m := routes[r].methods
	switch {
	case ctx.IsGet(), ctx.IsHead():
		return m&methodGet != 0
	case ctx.IsPost():
		return m&methodPost != 0
	}
	return false
}

// match maps a normalised path (base path already removed) to its route
// and, for the single-feature routes, the feature name. Disabled routes are
// routeNone.
func (h *Handler) match(path string) (route, string) {
	switch path {
	case "/api/client/features":
		return routeClientFeatures, ""
	case "/api/client/metrics":
		return routeClientMetrics, ""
	case "/api/client/metrics/bulk":
		return routeClientBulk, ""
	case "/api/client/metrics/edge":
		return routeClientEdgeData, ""
	case "/api/client/register":
		return routeClientRegister, ""
	case "/api/client/delta":
		return routeClientDelta, ""
	case "/api/client/streaming":
		return routeClientStreaming, ""
	case "/api/frontend":
		return routeFrontend, ""
	case "/api/proxy":
		return routeProxy, ""
	case "/api/frontend/all":
		return h.unlessAllDisabled(routeFrontendAll), ""
	case "/api/proxy/all":
		return h.unlessAllDisabled(routeProxyAll), ""
	case "/api/frontend/client/metrics", "/api/proxy/client/metrics":
		return routeFrontendMetrics, ""
	case "/api/frontend/all/client/metrics", "/api/proxy/all/client/metrics":
		return h.unlessAllDisabled(routeFrontendMetrics), ""
	case "/api/frontend/client/register", "/api/proxy/client/register":
		return routeFrontendRegister, ""
	case "/api/frontend/all/client/register", "/api/proxy/all/client/register":
		return h.unlessAllDisabled(routeFrontendRegister), ""
	case "/edge/validate":
		return routeEdgeValidate, ""
	case "/internal-backstage/health":
		return routeHealth, ""
	case "/internal-backstage/ready":
		return routeReady, ""
	case "/internal-backstage/metrics":
		return h.unless(h.cfg.DisableMetricsEndpoint, routeMetrics), ""
	case "/internal-backstage/tokens":
		return h.unless(h.cfg.DisableTokensEndpoint, routeTokens), ""
	case "/internal-backstage/features":
		return h.unless(h.cfg.DisableFeaturesEndpoint, routeFeatures), ""
	case "/internal-backstage/metricsbatch":
		return h.unless(h.cfg.DisableMetricsBatchEndpoint, routeMetricsBatch), ""
	case "/internal-backstage/instancedata":
		return h.unless(h.cfg.DisableInstanceDataEndpoint, routeInstanceData), ""
	}
	if h.signalPath != "" && path == h.signalPath {
		return routeSignal, ""
	}
	if name, ok := strings.CutPrefix(path, "/api/client/features/"); ok && name != "" {
		return routeClientFeature, name
	}
	if name, ok := strings.CutPrefix(path, "/api/frontend/features/"); ok && name != "" {
		return routeFrontendFeature, name
	}
	return routeNone, ""
}

func (h *Handler) unlessAllDisabled(r route) route { return h.unless(h.cfg.DisableAllEndpoint, r) }

func (h *Handler) unless(disabled bool, r route) route {
	if disabled {
		return routeNone
	}
	return r
}

// normalizePath trims repeated and trailing slashes from p (fasthttp has
// already decoded it and resolved dot segments) and removes the base path.
// It reports false when p is outside base. The result aliases p or the
// state's scratch buffer and is valid until the state is released.
func (st *reqState) normalizePath(p []byte, base string) (string, bool) {
	clean := true
	for i := 1; i < len(p); i++ {
		if p[i] == '/' && p[i-1] == '/' {
			clean = false
			break
		}
	}
	if !clean {
		b := st.path[:0]
		for i, c := range p {
			if c == '/' && i > 0 && p[i-1] == '/' {
				continue
			}
			b = append(b, c)
		}
		st.path = b
		p = b
	}
	for len(p) > 1 && p[len(p)-1] == '/' {
		p = p[:len(p)-1]
	}
	s := b2s(p)
	if base == "" {
		return s, true
	}
	rest, ok := strings.CutPrefix(s, base)
	if !ok || (rest != "" && rest[0] != '/') {
		return "", false
	}
	if rest == "" {
		rest = "/"
	}
	return rest, true
}
