package relay

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// Relay forwards the requests of its routes to the upstream (OCTET_URL).
// Match and Handle are safe to call from concurrently running goroutines;
// forwarding a request allocates nothing in steady state (unless
// StreamResponses is on).
type Relay struct {
	cfg    Config
	up     upstream
	hc     *fasthttp.HostClient
	routes []route
	reach  reach
	pool   sync.Pool // *fwdState
	// reserved are the request headers only the relay sets.
	reserved []string
	warn     throttle
	sigs     sigCache // encoded signal headers, per connection
}

type route struct {
	host   string // lower case, without brackets
	prefix string
	strip  bool
}

// fwdState is the per-request scratch memory, pooled.
type fwdState struct {
	req fasthttp.Request
	buf []byte
	sig []byte
	lim limitReader
}

// New fills cfg's defaults, validates it, loads the mutual-TLS files and
// returns a Relay. No connection is made until the first request.
func New(cfg Config) (*Relay, error) {
	up, err := cfg.fill()
	if err != nil {
		return nil, err
	}
	tlsCfg, err := cfg.tlsConfig()
	if err != nil {
		return nil, err
	}
	r := &Relay{cfg: cfg, up: up, sigs: newSigCache()}
	r.hc = newHostClient(&cfg, up, tlsCfg)
	r.hc.MaxConns = cfg.MaxConns
	r.hc.MaxResponseBodySize = cfg.MaxResponseBytes
	r.hc.StreamResponseBody = cfg.StreamResponses
	for _, rt := range cfg.Routes {
		h := strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(rt.Host, "["), "]"))
		r.routes = append(r.routes, route{host: h, prefix: rt.PathPrefix, strip: rt.StripPrefix})
	}
	r.reserved = []string{DefaultSignalHeader, cfg.LicenseHeader, fasthttp.HeaderXForwardedProto,
		fasthttp.HeaderXForwardedHost, "Forwarded", "X-Real-Ip", fasthttp.HeaderXForwardedFor}
	r.pool.New = func() any { return &fwdState{buf: make([]byte, 0, 512), sig: make([]byte, 0, 1024)} }
	r.warn.log = cfg.Logger
	return r, nil
}

// newHostClient returns a pooled keep-alive client of the upstream that
// never retries by itself (the callers decide).
func newHostClient(cfg *Config, up upstream, tlsCfg *tls.Config) *fasthttp.HostClient {
	return &fasthttp.HostClient{
		Addr:                          up.addr,
		Name:                          "brink-relay",
		IsTLS:                         up.scheme == "https",
		TLSConfig:                     tlsCfg,
		MaxIdleConnDuration:           cfg.IdleConnTimeout,
		MaxIdemponentCallAttempts:     1,
		ReadBufferSize:                16 << 10,
		WriteBufferSize:               16 << 10,
		DisablePathNormalizing:        true,
		DisableHeaderNamesNormalizing: false,
		NoDefaultUserAgentHeader:      true,
	}
}

// URL returns the upstream base URL without a trailing slash.
func (r *Relay) URL() string { return r.up.base }

// Match reports whether the request belongs to one of the relay's routes.
func (r *Relay) Match(ctx *fasthttp.RequestCtx) bool {
	_, ok := r.match(ctx)
	return ok
}

func (r *Relay) match(ctx *fasthttp.RequestCtx) (*route, bool) {
	if len(r.routes) == 0 {
		return nil, false
	}
	if hasDotSegment(ctx.URI().PathOriginal()) {
		return nil, false
	}
	host := hostWithoutPort(ctx.Host())
	path := ctx.Path()
	for i := range r.routes {
		rt := &r.routes[i]
		if rt.host != "" && !equalFold(host, rt.host) {
			continue
		}
		if rt.prefix != "" && !hasPathPrefix(path, rt.prefix) {
			continue
		}
		return rt, true
	}
	return nil, false
}

// Handle forwards the request to the upstream and writes its answer, or
// an error answer with a JSON body {"error":"..."}: 413 for a body over
// MaxBodyBytes, 502 when the upstream cannot be reached or answers
// badly, 504 when it does not answer within Timeout. A request that does
// not Match is forwarded whole.
func (r *Relay) Handle(ctx *fasthttp.RequestCtx) {
	st := r.pool.Get().(*fwdState)
	defer r.release(st)
	in := &ctx.Request
	if in.Header.ContentLength() > r.cfg.MaxBodyBytes {
		r.fail(ctx, OutcomeTooLarge, nil)
		return
	}
	if hasDotSegment(ctx.URI().PathOriginal()) {
		ctx.SetStatusCode(fasthttp.StatusBadRequest)
		ctx.SetContentType("application/json")
		ctx.SetBodyString(`{"error":"path with a dot segment"}`)
		return
	}
	out := &st.req
	in.Header.CopyTo(&out.Header)
	rt, _ := r.match(ctx)
	st.buf = r.appendTarget(st.buf[:0], ctx, rt)
	out.SetRequestURIBytes(st.buf)
	out.Header.SetHost(r.up.host)
	r.setHeaders(ctx, st)
	if in.IsBodyStream() {
		st.lim.reset(ctx.RequestBodyStream(), int64(r.cfg.MaxBodyBytes))
		out.SetBodyStream(&st.lim, max(in.Header.ContentLength(), -1))
	} else {
		body := in.Body()
		if len(body) > r.cfg.MaxBodyBytes {
			r.fail(ctx, OutcomeTooLarge, nil)
			return
		}
		out.SetBodyRaw(body)
	}
	resp := &ctx.Response
	deadline := time.Now().Add(r.cfg.Timeout)
	err := r.hc.DoDeadline(out, resp, deadline)
	if err != nil && retryable(out, err) && time.Now().Before(deadline) {
		relayRetries.Inc()
		err = r.hc.DoDeadline(out, resp, deadline)
	}
	if err != nil {
		switch {
		case st.lim.over:
			r.fail(ctx, OutcomeTooLarge, nil)
		case isTimeout(err):
			r.fail(ctx, OutcomeTimeout, err)
		default:
			r.fail(ctx, OutcomeBadGateway, err)
		}
		return
	}
	stripResponseHopHeaders(&resp.Header)
	r.Done(OutcomeOK, nil)
}

func (r *Relay) release(st *fwdState) {
	st.req.Reset()
	st.lim.reset(nil, 0)
	if cap(st.buf) > 64<<10 {
		st.buf = make([]byte, 0, 512)
	}
	if cap(st.sig) > 64<<10 {
		st.sig = make([]byte, 0, 1024)
	}
	r.pool.Put(st)
}

// appendTarget appends the upstream URL of the request: the base URL,
// then the request's path as sent (less the route's prefix with
// StripPrefix) and its query.
func (r *Relay) appendTarget(dst []byte, ctx *fasthttp.RequestCtx, rt *route) []byte {
	dst = append(dst, r.up.base[:len(r.up.base)-len(r.up.path)]...) // scheme://host
	return r.appendOriginForm(dst, ctx, rt)
}

// appendOriginForm appends the request target of the upstream request in
// origin form: the base URL's path, then the request's path as sent (less
// the route's prefix with StripPrefix) and its query.
func (r *Relay) appendOriginForm(dst []byte, ctx *fasthttp.RequestCtx, rt *route) []byte {
	dst = append(dst, r.up.path...)
	path := ctx.URI().PathOriginal()
	if i := bytes.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	if rt != nil && rt.strip && rt.prefix != "" && bytes.HasPrefix(path, s2b(rt.prefix)) {
		path = path[len(strings.TrimSuffix(rt.prefix, "/")):]
	}
	if len(path) == 0 || path[0] != '/' {
		dst = append(dst, '/')
	}
	dst = append(dst, path...)
	if q := ctx.URI().QueryString(); len(q) > 0 {
		dst = append(dst, '?')
		dst = append(dst, q...)
	}
	return dst
}

// Outcome is how one forwarded request ended: the result label of
// brink_relay_requests_total.
type Outcome uint8

// The outcomes of a forwarded request.
const (
	// OutcomeOK: the upstream answered ("ok").
	OutcomeOK Outcome = iota
	// OutcomeTooLarge: the request body is over MaxBodyBytes ("too_large").
	OutcomeTooLarge
	// OutcomeBadGateway: the upstream refused, reset or closed the
	// connection before answering, or answered malformed or too large
	// ("bad_gateway").
	OutcomeBadGateway
	// OutcomeTimeout: no complete answer within Timeout ("timeout").
	OutcomeTimeout
	// OutcomeClientClosed: the client's connection ended before its
	// answer did ("client_closed", nginx's 499); a front that forwards as
	// bytes sees it, Handle does not.
	OutcomeClientClosed
	numResults
)

var resultNames = [numResults]string{"ok", "too_large", "bad_gateway", "timeout", "client_closed"}

// String returns the outcome's result label ("ok", "too_large",
// "bad_gateway", "timeout", "client_closed").
func (o Outcome) String() string {
	if o < numResults {
		return resultNames[o]
	}
	return "unknown"
}

// The JSON bodies of the error answers.
const (
	bodyTooLarge       = `{"error":"request body too large"}`
	bodyTimeout        = `{"error":"upstream timed out"}`
	bodyUnreachable    = `{"error":"upstream unreachable"}`
	bodyAnswerTooLarge = `{"error":"upstream answer too large"}`
)

// failStatus is the status code of each failed outcome's answer.
var failStatus = [numResults]int{
	OutcomeTooLarge:   fasthttp.StatusRequestEntityTooLarge,
	OutcomeBadGateway: fasthttp.StatusBadGateway,
	OutcomeTimeout:    fasthttp.StatusGatewayTimeout,
}

// failBody is the JSON body of each failed outcome's answer.
var failBody = [numResults]string{
	OutcomeTooLarge:   bodyTooLarge,
	OutcomeBadGateway: bodyUnreachable,
	OutcomeTimeout:    bodyTimeout,
}

// Done records a forwarded request's outcome, for a front that forwards
// without Handle: it counts brink_relay_requests_total{result}, marks the
// upstream reachable (OutcomeOK) or failed with err (OutcomeBadGateway,
// OutcomeTimeout) for the health answer, and logs those failures at most
// once a second, as Handle does. OutcomeTooLarge and OutcomeClientClosed
// are only counted: they say nothing of the upstream. Values other than the Outcome constants are
// ignored. Done allocates nothing, but for a failure whose message it
// keeps (at most every 100 ms) or logs (at most once a second).
func (r *Relay) Done(o Outcome, err error) {
	switch o {
	case OutcomeOK:
		r.reach.succeeded()
	case OutcomeTooLarge, OutcomeClientClosed:
	case OutcomeBadGateway:
		r.reach.failed(err)
		r.warn.warn("relay: upstream unreachable", err)
	case OutcomeTimeout:
		r.reach.failed(err)
		r.warn.warn("relay: upstream timed out", err)
	default:
		return
	}
	relayResults[o].Inc()
}

// Retried counts one retry of a forwarded request
// (brink_relay_retries_total), for a front that forwards without Handle.
func (r *Relay) Retried() { relayRetries.Inc() }

// fail records the outcome (Done) and answers ctx with its error status
// and constant JSON body.
func (r *Relay) fail(ctx *fasthttp.RequestCtx, o Outcome, err error) {
	r.Done(o, err)
	ctx.Response.Reset()
	ctx.SetContentType("application/json")
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.SetStatusCode(failStatus[o])
	if o == OutcomeBadGateway && errors.Is(err, fasthttp.ErrBodyTooLarge) {
		ctx.SetBodyString(bodyAnswerTooLarge)
	} else {
		ctx.SetBodyString(failBody[o])
	}
}

// retryable reports whether a failed forward is tried once more: only
// idempotent methods (GET, HEAD, OPTIONS, PUT, DELETE) with a buffered
// body, and only after a connection error (refused, reset, closed before
// the answer), never after a timeout or an answer too large.
func retryable(req *fasthttp.Request, err error) bool {
	h := &req.Header
	if !(h.IsGet() || h.IsHead() || h.IsOptions() || h.IsPut() || h.IsDelete()) || req.IsBodyStream() {
		return false
	}
	return !isTimeout(err) && !errors.Is(err, fasthttp.ErrBodyTooLarge) && !errors.Is(err, fasthttp.ErrNoFreeConns)
}

func isTimeout(err error) bool {
	if errors.Is(err, fasthttp.ErrTimeout) || errors.Is(err, fasthttp.ErrDialTimeout) || errors.Is(err, fasthttp.ErrTLSHandshakeTimeout) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// limitReader passes a streamed request body on and fails past n bytes.
type limitReader struct {
	r    io.Reader
	n    int64
	over bool
}

var errBodyTooLarge = errors.New("relay: request body too large")

func (l *limitReader) reset(r io.Reader, n int64) { *l = limitReader{r: r, n: n} }

func (l *limitReader) Read(p []byte) (int, error) {
	if l.n < 0 {
		l.over = true
		return 0, errBodyTooLarge
	}
	if int64(len(p)) > l.n+1 {
		p = p[:l.n+1] // one byte more tells a body that ends at the limit from a larger one
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	if l.n < 0 {
		l.over = true
		return 0, errBodyTooLarge
	}
	return n, err
}

// hasDotSegment reports whether a path as sent (its query, if any, is
// ignored) has a "." or ".." segment, also percent-encoded ("%2e"). The
// relay forwards the path as sent under the upstream's base path, so an
// upstream that resolves dot segments would serve "/api/../admin" for
// "/../admin": such requests match no route, and Handle refuses them.
// Browsers resolve dot segments before sending, so only crafted requests
// carry them.
func hasDotSegment(p []byte) bool {
	if i := bytes.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	if bytes.IndexByte(p, '.') < 0 && bytes.IndexByte(p, '%') < 0 {
		return false
	}
	for len(p) > 0 {
		var seg []byte
		seg, p, _ = bytes.Cut(p, []byte{'/'})
		dots := 0
		for len(seg) > 0 && dots <= 2 {
			switch {
			case seg[0] == '.':
				seg = seg[1:]
			case len(seg) >= 3 && seg[0] == '%' && seg[1] == '2' && (seg[2] == 'e' || seg[2] == 'E'):
				seg = seg[3:]
			default:
				dots = 3 // not a dot segment
				continue
			}
			dots++
		}
		if len(seg) == 0 && (dots == 1 || dots == 2) {
			return true
		}
	}
	return false
}
