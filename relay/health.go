package relay

import (
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/valyala/fasthttp"
)

// DefaultHealthPath is where cmd serves Health.Handle.
const DefaultHealthPath = "/health"

// HealthConfig configures a Health handler; cmd passes in what it knows.
type HealthConfig struct {
	// Version is brink's version, answered as "version".
	Version string
	// Capture returns the signal capture mode: "ebpf", "fallback" or "off".
	// Nil answers "off".
	Capture func() string
	// Relay and Connector report their latest upstream exchanges; either
	// may be nil. With neither, no upstream is reported.
	Relay     *Relay
	Connector *Connector
	// ProbeInterval overrides the Relay's (or Connector's) ProbeInterval
	// when set.
	ProbeInterval time.Duration
}

// Health answers GET /health. "ok" is true while the process serves: an
// unreachable upstream is reported in "upstream", not made fatal, since
// the edge keeps harvesting and spooling signals while it is down and a
// restart would not bring the upstream back. Handle is safe for
// concurrent use.
type Health struct {
	cfg   HealthConfig
	start time.Time
	url   string
	hc    *fasthttp.HostClient
	probe reach
	every time.Duration
	stop  chan struct{}
	wg    sync.WaitGroup
	once  sync.Once
}

// NewHealth returns a Health handler and, when there is an upstream,
// starts its probe: a HEAD of the upstream base URL, bounded by 5 s, made
// when neither the relay nor the connector talked to the upstream for a
// ProbeInterval. Close stops it.
func NewHealth(cfg HealthConfig) *Health {
	h := &Health{cfg: cfg, start: time.Now(), stop: make(chan struct{})}
	switch {
	case cfg.Relay != nil:
		h.url, h.hc, h.every = cfg.Relay.up.base, cfg.Relay.hc, cfg.Relay.cfg.ProbeInterval
	case cfg.Connector != nil:
		h.url, h.hc, h.every = cfg.Connector.up.base, cfg.Connector.hc, cfg.Connector.cfg.ProbeInterval
	}
	if cfg.ProbeInterval > 0 {
		h.every = cfg.ProbeInterval
	}
	if h.hc != nil {
		h.wg.Go(h.probeLoop)
	}
	return h
}

// Close stops the probe.
func (h *Health) Close() {
	h.once.Do(func() { close(h.stop) })
	h.wg.Wait()
}

func (h *Health) probeLoop() {
	t := time.NewTicker(h.every)
	defer t.Stop()
	h.doProbe()
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
			if r := h.reachability(); !r.Known || time.Since(r.At) >= h.every {
				h.doProbe()
			}
		}
	}
}

// doProbe sends a HEAD of the upstream base URL. Any answer below 500
// counts as reachable.
func (h *Health) doProbe() {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(h.url + "/")
	req.Header.SetMethod(fasthttp.MethodHead)
	if r := h.cfg.Relay; r != nil && r.cfg.License != "" {
		req.Header.Set(r.cfg.LicenseHeader, r.cfg.License)
	} else if c := h.cfg.Connector; c != nil && c.cfg.License != "" {
		req.Header.Set(c.cfg.LicenseHeader, c.cfg.License)
	}
	err := h.hc.DoTimeout(req, resp, 5*time.Second)
	switch {
	case err != nil:
		h.probe.failed(err)
	case resp.StatusCode() >= 500:
		h.probe.failed(errStatus(resp.StatusCode()))
	default:
		h.probe.succeeded()
	}
}

type errStatus int

func (e errStatus) Error() string { return "probe answered status " + strconv.Itoa(int(e)) }

// reachability merges the latest outcomes: reachable is the newest one's,
// lastError the newest failure's message.
func (h *Health) reachability() Reachability {
	all := []Reachability{h.probe.get()}
	if h.cfg.Relay != nil {
		all = append(all, h.cfg.Relay.Reachability())
	}
	if h.cfg.Connector != nil {
		all = append(all, h.cfg.Connector.Reachability())
	}
	var out Reachability
	var failAt time.Time
	for _, r := range all {
		if r.Known && (!out.Known || r.At.After(out.At)) {
			out.Known, out.Reachable, out.At = true, r.Reachable, r.At
		}
		if r.LastError != "" && (failAt.IsZero() || r.FailedAt.After(failAt)) {
			out.LastError, failAt = r.LastError, r.FailedAt
		}
	}
	out.FailedAt = failAt
	return out
}

// Handle answers GET (and HEAD) with the health document:
//
//	{"ok":true,"version":"...","uptimeSeconds":N,"capture":"ebpf|fallback|off",
//	 "upstream":{"url":"...","reachable":true,"lastError":"...","checkedAt":"..."},
//	 "spool":{"files":N,"bytes":N}}
//
// "upstream" is null without an upstream; "checkedAt" is the RFC 3339 time
// of the latest exchange, "" before the first.
func (h *Health) Handle(ctx *fasthttp.RequestCtx) {
	if !ctx.IsGet() && !ctx.IsHead() {
		ctx.Response.Header.Set(fasthttp.HeaderAllow, "GET, HEAD")
		ctx.SetStatusCode(fasthttp.StatusMethodNotAllowed)
		ctx.SetContentType("application/json")
		ctx.SetBodyString(`{"error":"method not allowed"}`)
		return
	}
	capture := "off"
	if h.cfg.Capture != nil {
		capture = h.cfg.Capture()
	}
	b := make([]byte, 0, 512)
	b = append(b, `{"ok":true,"version":`...)
	b = appendJSONString(b, h.cfg.Version)
	b = append(b, `,"uptimeSeconds":`...)
	b = strconv.AppendInt(b, int64(time.Since(h.start)/time.Second), 10)
	b = append(b, `,"capture":`...)
	b = appendJSONString(b, capture)
	b = append(b, `,"upstream":`...)
	if h.hc == nil {
		b = append(b, "null"...)
	} else {
		r := h.reachability()
		b = append(b, `{"url":`...)
		b = appendJSONString(b, h.url)
		b = append(b, `,"reachable":`...)
		b = strconv.AppendBool(b, r.Known && r.Reachable)
		b = append(b, `,"lastError":`...)
		b = appendJSONString(b, r.LastError)
		b = append(b, `,"checkedAt":"`...)
		if r.Known {
			b = r.At.UTC().AppendFormat(b, time.RFC3339)
		}
		b = append(b, `"}`...)
	}
	var files, n int64
	if h.cfg.Connector != nil {
		files, n = h.cfg.Connector.store.stats()
	}
	b = append(b, `,"spool":{"files":`...)
	b = strconv.AppendInt(b, files, 10)
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, n, 10)
	b = append(b, "}}"...)
	ctx.SetContentType("application/json")
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.SetBody(b)
}

// appendJSONString appends s as a JSON string; invalid UTF-8 becomes
// U+FFFD.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c < 0x20 || c == 0x7f:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, `\ufffd`...)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}
