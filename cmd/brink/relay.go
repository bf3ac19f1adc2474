package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/brink-edge/brink/connsig"
	"github.com/brink-edge/brink/proto/http1"
	"github.com/brink-edge/brink/relay"
	"github.com/brink-edge/brink/tlsterm"
)

// serviceRelay is the TLS service that relays every request (but /health)
// to relay.url: what a hostname routed to the relay serves.
const serviceRelay = "relay"

// connectorGrace bounds the connector's flush at shutdown; what it cannot
// send by then goes to the spool.
const connectorGrace = 5 * time.Second

// edgeSide is what stands in front of the flag API: GET /health, the relay
// routes and the signal connector. Without relay.url only /health is added.
type edgeSide struct {
	handler   fasthttp.RequestHandler // /health, relay routes, then the API
	relayOnly fasthttp.RequestHandler // /health, then everything relayed
	relay     *relay.Relay
	connector *relay.Connector
	health    *relay.Health
	relayMode bool // brink relay: probes answered here, no flag API
	// recordOnOpen: the loop ships each connection's signal when it opens
	// (http1.Config.OnOpen), so front does not.
	recordOnOpen bool
	stopOnce     sync.Once
}

// setupRelay builds `brink relay`, the Octet edge: the same environment
// (PORT, OCTET_URL, LICENSE, EDGE_TLS_*, OCTET_CA_FILE, EDGE_CLIENT_*),
// TLS on PORT when a certificate is set, every request but /health relayed
// to OCTET_URL, and every connection's signal shipped to its ingest path.
func setupRelay(_ *flagSet, g *globalOptions) func(io.Writer) error {
	return func(io.Writer) error {
		logger, err := newLogger(g, os.Stderr)
		if err != nil {
			return err
		}
		s, err := newServer(g, logger)
		if err != nil {
			return err
		}
		if err := s.openEdgeSide(nil, true); err != nil {
			s.close()
			return err
		}
		if err := s.listen(nil); err != nil {
			s.close()
			return err
		}
		logger.Info("serving", "mode", "relay", "addr", s.primaryAddr(), "scheme", s.scheme(),
			"upstream", g.cfg.Redacted().Relay.URL, "capture", s.captureMode(), "version", version)
		return s.run(context.Background())
	}
}

// openEdgeSide builds the relay, the connector and /health from the
// configuration, and the handler that puts them in front of api (nil in
// relay mode: requests no route takes get 404).
func (s *server) openEdgeSide(api fasthttp.RequestHandler, relayMode bool) error {
	e := &edgeSide{relayMode: relayMode}
	s.edge = e
	rc := s.cfg.Relay
	if rc.URL == "" && relayMode {
		return usageError{errors.New("brink relay needs the upstream: set OCTET_URL (relay.url) and LICENSE (relay.license)")}
	}
	if rc.URL != "" {
		cfg := relay.Config{
			URL:            rc.URL,
			License:        rc.License,
			LicenseHeader:  rc.LicenseHeader,
			CAFile:         rc.CAFile,
			ClientCertFile: rc.ClientCertFile,
			ClientKeyFile:  rc.ClientKeyFile,
			Timeout:        rc.Timeout,
			MaxBodyBytes:   int(rc.MaxBodyBytes),
			IngestPath:     rc.IngestPath,
			SpoolDir:       rc.SpoolDir,
			SpoolMaxBytes:  int64(rc.SpoolMaxBytes),
			BatchRecords:   rc.BatchMaxRecords,
			FlushInterval:  rc.FlushInterval,
			InstanceID:     s.cfg.Server.InstanceID,
			Logger:         s.logger,
		}
		for _, r := range rc.Routes {
			cfg.Routes = append(cfg.Routes, relay.Route{Host: r.Host, PathPrefix: r.PathPrefix})
		}
		if len(cfg.Routes) == 0 && relayMode {
			// The Octet edge receives only Octet traffic: relay it all.
			cfg.Routes = []relay.Route{{PathPrefix: "/"}}
		}
		var err error
		if e.relay, err = relay.New(cfg); err != nil {
			return usageError{err}
		}
		if e.connector, err = relay.NewConnector(cfg); err != nil {
			return fmt.Errorf("starting the signal connector: %w", err)
		}
	}
	e.health = relay.NewHealth(relay.HealthConfig{
		Version:   version,
		Capture:   s.captureMode,
		Relay:     e.relay,
		Connector: e.connector,
	})
	e.handler = e.front(api, e.relay != nil && api != nil)
	if e.relay != nil {
		e.relayOnly = e.front(nil, false)
	}
	return nil
}

// front returns the top-level handler: it ships the connection's signal
// on its first request (plain connections; TLS ones are shipped after the
// handshake by tlsService), answers /health, relays what a relay route
// matches (everything without api) and hands the rest to api.
func (e *edgeSide) front(api fasthttp.RequestHandler, matchRoutes bool) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		if e.connector != nil && !e.recordOnOpen && !ctx.IsTLS() && ctx.ConnRequestNum() == 1 {
			e.record(ctx.Conn())
		}
		path := ctx.Path()
		if string(path) == "/health" {
			e.health.Handle(ctx)
			return
		}
		if api == nil {
			if e.relayMode && e.probe(ctx, path) {
				return
			}
			if e.relay != nil {
				e.relay.Handle(ctx)
				return
			}
			ctx.SetStatusCode(fasthttp.StatusNotFound)
			ctx.SetContentType("application/json")
			ctx.SetBodyString(`{"error":"no route for this request"}`)
			return
		}
		if matchRoutes && e.relay.Match(ctx) {
			e.relay.Handle(ctx)
			return
		}
		api(ctx)
	}
}

// probe answers the container probes of `brink health` and `brink ready`
// in relay mode, where no flag API serves /internal-backstage.
func (e *edgeSide) probe(ctx *fasthttp.RequestCtx, path []byte) bool {
	var body string
	switch string(path) {
	case "/internal-backstage/health":
		body = `{"status":"OK"}`
	case "/internal-backstage/ready":
		body = `{"status":"READY"}`
	default:
		return false
	}
	ctx.SetContentType("application/json")
	ctx.SetBodyString(body)
	return true
}

// record ships c's signal to the connector.
func (e *edgeSide) record(c net.Conn) {
	carrier, ok := c.(connsig.Carrier)
	if !ok {
		return
	}
	var remote netip.AddrPort
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		remote = ta.AddrPort()
	}
	e.connector.Add(carrier.Signal(), remote, time.Now())
}

// recordingService is a TLS HTTP service that ships each connection's
// signal once its handshake is done, before serving requests, so that
// connections that send no request are shipped too.
type recordingService struct {
	*tlsterm.HTTPService
	e *edgeSide
}

func (r recordingService) ServeConn(c net.Conn) error {
	if r.e.connector != nil {
		r.e.record(c)
	}
	return r.HTTPService.ServeConn(c)
}

// tlsService serves srv over terminated TLS connections.
func (e *edgeSide) tlsService(srv *fasthttp.Server) tlsterm.Service {
	return recordingService{HTTPService: tlsterm.NewHTTPServiceFrom(srv), e: e}
}

// shutdown flushes the connector (spooling what the upstream does not take
// in time) after the listeners drained.
func (e *edgeSide) shutdown(logger *slog.Logger) {
	e.stopOnce.Do(func() {
		if e.connector != nil {
			ctx, cancel := context.WithTimeout(context.Background(), connectorGrace)
			defer cancel()
			if err := e.connector.Close(ctx); err != nil {
				logger.Warn("signal connector shutdown", "err", err)
			}
		}
		if e.health != nil {
			e.health.Close()
		}
	})
}

// abort releases what openEdgeSide started when serving never begins.
func (e *edgeSide) abort() {
	e.shutdown(slog.New(slog.DiscardHandler))
}

// proxies reports whether the loop's proxy forwards the request: a relay
// route, except what front answers itself (/health, and the probes in
// relay mode).
func (e *edgeSide) proxies(ctx *fasthttp.RequestCtx) bool {
	return e.relay != nil && !e.ownPath(ctx) && e.relay.Match(ctx)
}

// relays reports whether front hands the request to relay.Handle, which
// waits on the upstream: a relay route, or in relay mode anything but
// front's own paths. On the loop such requests run off the loop
// (http1.Config.Offload); the proxy takes the HTTP/1.1 ones first.
func (e *edgeSide) relays(ctx *fasthttp.RequestCtx) bool {
	return e.relay != nil && !e.ownPath(ctx) && (e.relayMode || e.relay.Match(ctx))
}

// ownPath reports whether front answers the request itself.
func (e *edgeSide) ownPath(ctx *fasthttp.RequestCtx) bool {
	switch string(ctx.Path()) {
	case "/health":
		return true
	case "/internal-backstage/health", "/internal-backstage/ready":
		return e.relayMode
	}
	return false
}

// proxyConfig is the loop proxy's configuration for the relay, with its
// connection bound shared among loops (loops 0: one per CPU).
func (e *edgeSide) proxyConfig(loops int) *http1.ProxyConfig {
	r := e.relay
	if loops <= 0 {
		loops = runtime.GOMAXPROCS(0)
	}
	return &http1.ProxyConfig{
		Upstream:        relayUpstream{e},
		Addr:            r.UpstreamAddr(),
		Timeout:         r.Timeout(),
		IdleConnTimeout: r.IdleConnTimeout(),
		MaxConnsPerLoop: max(1, (r.MaxConns()+loops-1)/loops),
		MaxBodyBytes:    r.MaxBodyBytes(),
		MaxBacklog:      r.MaxResponseBytes(),
	}
}

// relayUpstream is the relay as the loop proxy's Upstream.
type relayUpstream struct{ e *edgeSide }

func (u relayUpstream) Match(ctx *fasthttp.RequestCtx) bool { return u.e.proxies(ctx) }

func (u relayUpstream) AppendRequestHead(dst []byte, ctx *fasthttp.RequestCtx, raw []byte, bodyLen int) ([]byte, bool) {
	return u.e.relay.AppendRequestHead(dst, ctx, raw, bodyLen)
}

func (u relayUpstream) AppendErrorAnswer(dst []byte, o http1.Outcome, closeConn bool) []byte {
	return relay.AppendErrorAnswer(dst, relayOutcome(o), closeConn)
}

func (u relayUpstream) Done(o http1.Outcome, err error) { u.e.relay.Done(relayOutcome(o), err) }

func (u relayUpstream) Retried() { u.e.relay.Retried() }

func relayOutcome(o http1.Outcome) relay.Outcome {
	switch o {
	case http1.OutcomeOK:
		return relay.OutcomeOK
	case http1.OutcomeTooLarge:
		return relay.OutcomeTooLarge
	case http1.OutcomeTimeout:
		return relay.OutcomeTimeout
	case http1.OutcomeClientClosed:
		return relay.OutcomeClientClosed
	}
	return relay.OutcomeBadGateway
}
