package api

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/brink-edge/brink/flags"
)

// Defaults used for zero Config fields.
const (
	DefaultTokenHeader      = "Authorization"
	DefaultCORSMaxAge       = 172800
	DefaultMinCompressSize  = 256
	DefaultFeatureCacheSize = 1024
	DefaultAppName          = "brink"
	DefaultMaxStreams       = 10000
	DefaultStreamKeepAlive  = 30 * time.Second
	DefaultStreamWriteTime  = 15 * time.Second
)

// Config configures a Handler. The zero value of every field means its
// documented default; Store and Tokens are required.
type Config struct {
	// Store holds the flag state the API answers from. Required.
	Store *flags.Store
	// Tokens holds the tokens SDKs may present; a token not in it is
	// rejected with 403 unless Validator accepts it. Required.
	Tokens *flags.TokenCache
	// Validator, when set (edge mode), resolves tokens that Tokens does not
	// know: a token in the [project]:[environment].[secret] format is
	// validated by it (other strings get 403), and the request goes on when
	// the answer is Validated or Trusted, gets 403 when it is Invalid and
	// 401 when it is Unknown (upstream unreachable or slower than
	// ValidateTimeout). Concurrent requests with the same new token share
	// one call. The Validator records its answers in Tokens, so a token is
	// validated once. /edge/validate also asks it about the tokens Tokens
	// does not know, which lets another Edge chain behind this one.
	Validator flags.TokenValidator
	// ValidateTimeout bounds how long a request waits for the Validator.
	// Zero means 5 s.
	ValidateTimeout time.Duration
	// TokenRefreshes, when set, returns the tokenRefreshes member of
	// /internal-backstage/tokens (edge mode's refresh state, any JSON
	// value, normally a list); nil, or a nil result, shows [].
	TokenRefreshes func() any
	// SignalPath is where GET answers the caller's own connection signal as
	// JSON (under BasePath). Empty means DefaultSignalPath; "-" turns it
	// off. With a signal, frontend contexts also carry its properties
	// (connsig.PropertyNames), replacing any the caller sent.
	SignalPath string
	// MaxStreams bounds the open /api/client/streaming connections; one
	// more is answered 503. Zero means 10,000.
	MaxStreams int
	// StreamKeepAlive is the idle time after which a stream gets a
	// keep-alive comment and its token is checked again. Zero means 30 s.
	StreamKeepAlive time.Duration
	// StreamWriteTimeout is how long a write to a streaming client may
	// wait for the client to take it; a client slower than that is
	// disconnected and counted in brink_streaming_slow_disconnects_total.
	// What waits for a client is bounded: the event being written plus
	// fasthttp's few pipe buffers. Zero means 15 s.
	StreamWriteTimeout time.Duration
	// Metrics aggregates SDK metrics and registrations. Nil means a new
	// aggregator identified by AppName and InstanceID.
	Metrics *flags.MetricsAggregator
	// BasePath nests every route under a prefix, such as "/edge"; slashes
	// around it are trimmed. Empty serves at the root.
	BasePath string
	// TokenHeader is the request header carrying the SDK token (the raw
	// token, no "Bearer"). Empty means "Authorization".
	TokenHeader string
	// CORS configures the cross-origin answers browser SDKs need.
	CORS CORSConfig
	// AllowList, when not empty, admits only peers whose address is in one
	// of its prefixes; other peers get 403.
	AllowList []netip.Prefix
	// DenyList rejects peers whose address is in one of its prefixes with
	// 403.
	DenyList []netip.Prefix
	// TrustProxy takes the client address (the default remoteAddress of a
	// frontend context) from the Forwarded "for=" header, then from
	// X-Forwarded-For, instead of the connection's peer.
	TrustProxy bool
	// ProxyTrustedServers, with TrustProxy, are the proxies in front of
	// this server: trusted hops (and a trusted peer) are skipped from the
	// right of the forwarding chain and the client is the first untrusted
	// address; a peer that is not trusted is the client itself. Empty means
	// the leftmost address of the chain is the client.
	ProxyTrustedServers []netip.Prefix
	// DisableAllEndpoint removes /api/frontend/all and /api/proxy/all and
	// their metrics and register routes (404).
	DisableAllEndpoint bool
	// DisableMetricsEndpoint removes /internal-backstage/metrics.
	DisableMetricsEndpoint bool
	// DisableFeaturesEndpoint removes /internal-backstage/features.
	DisableFeaturesEndpoint bool
	// DisableTokensEndpoint removes /internal-backstage/tokens.
	DisableTokensEndpoint bool
	// DisableMetricsBatchEndpoint removes /internal-backstage/metricsbatch.
	DisableMetricsBatchEndpoint bool
	// DisableInstanceDataEndpoint removes /internal-backstage/instancedata.
	DisableInstanceDataEndpoint bool
	// Ready reports whether the instance is ready; it drives
	// /internal-backstage/ready and turns "no data yet" API answers into
	// 503. Nil means always ready.
	Ready func() bool
	// Logger receives throttled rejection lines at debug and info level.
	// Nil discards them.
	Logger *slog.Logger
	// Version is sent as X-Edge-Version and shown in instance data. Empty
	// means "dev".
	Version string
	// AppName and InstanceID identify this instance in instance data and
	// in the connectVia of forwarded registrations. Empty mean "brink" and
	// "brink@<random hex>".
	AppName, InstanceID string
	// MinCompressSize is the smallest body that is gzip or zstd encoded.
	// Zero means 256; negative disables compression.
	MinCompressSize int
	// FeatureCacheSize bounds the cached /api/client/features answers and
	// the cached frontend scopes. Zero means 1024.
	FeatureCacheSize int
}

// CORSConfig configures cross-origin resource sharing. The zero value
// allows any origin, mirrors the requested method and headers, exposes
// ETag and lets browsers cache preflights for 172800 seconds.
type CORSConfig struct {
	// Origins are the allowed origins; empty or containing "*" allows any
	// (answered with "*").
	Origins []string
	// AllowedHeaders are the request headers allowed; empty mirrors the
	// preflight's Access-Control-Request-Headers.
	AllowedHeaders []string
	// ExposedHeaders are the response headers scripts may read; ETag is
	// always included.
	ExposedHeaders []string
	// Methods are the allowed methods; empty mirrors the preflight's
	// Access-Control-Request-Method.
	Methods []string
	// MaxAge is how long, in seconds, a preflight answer may be cached.
	// Zero means 172800; negative omits the header.
	MaxAge int
}

// Handler serves the Unleash HTTP API. Create it with New.
type Handler struct {
	cfg  Config
	base string
	// signalPath is the normalised SignalPath; empty when off.
	signalPath  string
	tokenHeader string
	metrics     *flags.MetricsAggregator
	cors        corsPolicy
	features    *boundedCache[*featureEntry]
	scopes      *boundedCache[*flags.Scope]
	rejects     rejectLog
	instances   instanceStore
	started     time.Time
	minCompress int
	validations *validations
	// streams counts the open streams; done is closed by CloseStreams.
	streams   atomic.Int64
	done      chan struct{}
	closeOnce sync.Once
}

var _ fasthttp.RequestHandler = (*Handler)(nil).Handle

// New returns a Handler for cfg after filling defaults. It fails when
// Store or Tokens is missing.
func New(cfg Config) (*Handler, error) {
	if cfg.Store == nil {
		return nil, ErrNoStore
	}
	if cfg.Tokens == nil {
		return nil, ErrNoTokens
	}
	if cfg.TokenHeader == "" {
		cfg.TokenHeader = DefaultTokenHeader
	}
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	if cfg.AppName == "" {
		cfg.AppName = DefaultAppName
	}
	if cfg.InstanceID == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		cfg.InstanceID = cfg.AppName + "@" + hex.EncodeToString(b[:])
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.FeatureCacheSize <= 0 {
		cfg.FeatureCacheSize = DefaultFeatureCacheSize
	}
	if cfg.MaxStreams <= 0 {
		cfg.MaxStreams = DefaultMaxStreams
	}
	if cfg.StreamKeepAlive <= 0 {
		cfg.StreamKeepAlive = DefaultStreamKeepAlive
	}
	if cfg.StreamWriteTimeout <= 0 {
		cfg.StreamWriteTimeout = DefaultStreamWriteTime
	}
	h := &Handler{
		cfg:         cfg,
		base:        normalizeBase(cfg.BasePath),
		tokenHeader: cfg.TokenHeader,
		metrics:     cfg.Metrics,
		cors:        newCORSPolicy(cfg.CORS),
		features:    newBoundedCache[*featureEntry](cfg.FeatureCacheSize),
		scopes:      newBoundedCache[*flags.Scope](cfg.FeatureCacheSize),
		started:     time.Now().UTC(),
		minCompress: cfg.MinCompressSize,
		done:        make(chan struct{}),
		signalPath:  cfg.SignalPath,
	}
	switch h.signalPath {
	case "":
		h.signalPath = DefaultSignalPath
	case "-":
		h.signalPath = ""
	default:
		h.signalPath = "/" + strings.Trim(h.signalPath, "/")
		if rt, _ := h.match(h.signalPath); h.signalPath == "/" || rt != routeSignal {
			return nil, fmt.Errorf("api: signal path %q is empty or taken by another route", cfg.SignalPath)
		}
	}
	if cfg.Validator != nil {
		h.validations = newValidations(cfg.Validator, cfg.ValidateTimeout)
	}
	h.rejects.log = cfg.Logger
	if h.metrics == nil {
		h.metrics = flags.NewMetricsAggregator(flags.MetricsConfig{AppName: cfg.AppName, InstanceID: cfg.InstanceID})
	}
	if h.minCompress == 0 {
		h.minCompress = DefaultMinCompressSize
	}
	return h, nil
}

// Metrics returns the aggregator SDK metrics and registrations go to, for
// draining them upstream.
func (h *Handler) Metrics() *flags.MetricsAggregator { return h.metrics }

// normalizeBase turns " /edge/ " into "/edge" and "/" or "" into "".
func normalizeBase(p string) string {
	p = strings.Trim(strings.TrimSpace(p), "/")
	if p == "" {
		return ""
	}
	return "/" + p
}

// Handle serves one request. It is a fasthttp.RequestHandler.
func (h *Handler) Handle(ctx *fasthttp.RequestCtx) {
	start := time.Now()
	st := acquireState()
	rt := h.serve(ctx, st)
	releaseState(st)
	observe(rt, ctx.Response.StatusCode(), start)
}

// serve routes the request and returns the route it matched, for the
// request metrics.
func (h *Handler) serve(ctx *fasthttp.RequestCtx, st *reqState) route {
	path, ok := st.normalizePath(ctx.Path(), h.base)
	if !ok {
		h.reject(ctx, routeNone, reasonNoRoute, fasthttp.StatusNotFound)
		return routeNone
	}
	peer := peerAddr(ctx)
	if !h.admitted(peer) {
		h.reject(ctx, routeNone, reasonAddress, fasthttp.StatusForbidden)
		return routeNone
	}
	st.vary = h.cors.apply(ctx)
	if ctx.IsOptions() {
		h.cors.preflight(ctx)
		setVary(ctx, st.vary)
		return routeNone
	}
	rt, param := h.match(path)
	if rt == routeNone {
		h.reject(ctx, rt, reasonNoRoute, fasthttp.StatusNotFound)
		return rt
	}
	if !rt.allows(ctx) {
		ctx.Response.Header.Set("Allow", rt.info().allow)
		h.reject(ctx, rt, reasonMethod, fasthttp.StatusMethodNotAllowed)
		return rt
	}
	switch rt.info().kind {
	case kindClient, kindFrontend, kindIngest:
		tok, ok := h.authorize(ctx, rt)
		if !ok {
			return rt
		}
		h.serveAPI(ctx, st, rt, param, &tok, peer)
	case kindEdge:
		h.serveValidate(ctx)
	case kindBackstage:
		h.serveBackstage(ctx, st, rt)
	case kindSignal:
		h.serveSignal(ctx, st)
	}
	return rt
}

// serveAPI dispatches an authorised /api request.
func (h *Handler) serveAPI(ctx *fasthttp.RequestCtx, st *reqState, rt route, param string, tok *flags.Token, peer netip.Addr) {
	switch rt {
	case routeClientFeatures:
		h.serveClientFeatures(ctx, st, tok)
	case routeClientFeature:
		h.serveClientFeature(ctx, st, tok, param)
	case routeFrontend, routeProxy:
		h.serveFrontend(ctx, st, rt, tok, peer, false, "")
	case routeFrontendAll, routeProxyAll:
		h.serveFrontend(ctx, st, rt, tok, peer, true, "")
	case routeFrontendFeature:
		h.serveFrontend(ctx, st, rt, tok, peer, true, param)
	case routeClientMetrics, routeFrontendMetrics:
		h.serveMetrics(ctx, rt, tok)
	case routeClientBulk:
		h.serveBulk(ctx, rt, tok)
	case routeClientEdgeData:
		h.serveInstanceReport(ctx, rt)
	case routeClientRegister, routeFrontendRegister:
		h.serveRegister(ctx, rt, tok)
	case routeClientDelta:
		h.serveDelta(ctx, st, tok)
	case routeClientStreaming:
		h.serveStreaming(ctx, tok)
	}
}

// ready reports Config.Ready, true when unset.
func (h *Handler) ready() bool { return h.cfg.Ready == nil || h.cfg.Ready() }
