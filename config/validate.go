package config

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// implied marks a value Load derived from another key.
func implied(by string) string { return "implied by " + by }

func (l *loader) origin(key string) string { return l.cfg.Origin(key) }

func (l *loader) isSet(key string) bool { return l.origin(key) != "default" }

func (l *loader) warn(format string, args ...any) {
	l.cfg.meta.warnings = append(l.cfg.meta.warnings, fmt.Sprintf(format, args...))
}

// spell names key with every way to set it, for messages about a value
// that is missing: "tls.key_file (EDGE_TLS_KEY_FILE, TLS_SERVER_KEY,
// BRINK_TLS__KEY_FILE, --tls-server-key)".
func (l *loader) spell(key string) string {
	f := theSchema().byKey[key]
	var ways []string
	if f != nil {
		ways = append(ways, f.env...)
	}
	ways = append(ways, brinkEnv(key))
	if fl := l.src.FlagNames[key]; fl != "" {
		ways = append(ways, fl)
	}
	return key + " (" + strings.Join(ways, ", ") + ")"
}

// resolve fills the values other keys imply, recording why.
func (l *loader) resolve() {
	c := l.cfg
	o := c.meta.origins
	if c.Engine.LogLevel != "" && !l.isSet("log.level") {
		c.Log.Level = c.Engine.LogLevel
		o["log.level"] = implied("engine.log_level")
	}
	l.resolveStatic()
	t := &c.TLS
	if !l.isSet("tls.enabled") && (t.CertFile != "" || t.KeyFile != "" || len(t.Certificates) > 0) {
		t.Enabled = true
		o["tls.enabled"] = implied("a configured certificate")
	}
	if t.Enabled && t.ListenAddr == "" {
		if l.unleashTLS() {
			t.ListenAddr = net.JoinHostPort(c.Server.Interface, strconv.Itoa(t.ServerPort))
			o["tls.listen_addr"] = implied("tls.server_port (Unleash Edge style)")
		} else {
			t.ListenAddr = net.JoinHostPort(c.Server.Interface, strconv.Itoa(c.Server.Port))
			o["tls.listen_addr"] = implied("server.port (TLS instead of plain HTTP)")
		}
	}
	if h := &c.HTTP; h.RedirectToHTTPS && h.ListenAddr == "" && t.Enabled {
		if plain := net.JoinHostPort(c.Server.Interface, strconv.Itoa(c.Server.Port)); plain != t.ListenAddr {
			h.ListenAddr = plain
			o["http.listen_addr"] = implied("http.redirect_to_https")
		}
	}
	c.Metrics.Prometheus.ListenAddr = loopbackDefault(c.Metrics.Prometheus.ListenAddr)
	c.Admin.ListenAddr = loopbackDefault(c.Admin.ListenAddr)
}

// unleashTLS reports whether TLS was configured with Unleash Edge's
// options, which listen on --tls-server-port rather than on --port.
func (l *loader) unleashTLS() bool {
	if l.isSet("tls.server_port") {
		return true
	}
	for _, key := range []string{"tls.enabled", "tls.cert_file", "tls.key_file"} {
		o := l.origin(key)
		if strings.HasPrefix(o, "env:TLS_") || strings.HasPrefix(o, "flag:--tls-") {
			return true
		}
	}
	return false
}

// resolveStatic moves rstream's certs.static pair into tls.cert_file/key_file.
func (l *loader) resolveStatic() {
	c := l.cfg
	s, t := &c.Certs.Static, &c.TLS
	files := s.CertFile != "" || s.KeyFile != ""
	if l.isSet("certs.static.enabled") && !s.Enabled {
		if files {
			l.warn("certs.static.enabled is false (%s): certs.static.cert_file and key_file are ignored", l.origin("certs.static.enabled"))
		}
		return
	}
	if !s.Enabled && !files {
		return
	}
	if !s.Enabled {
		s.Enabled = true
		c.meta.origins["certs.static.enabled"] = implied("certs.static files")
	}
	for _, p := range [][2]string{{"certs.static.cert_file", s.CertFile}, {"certs.static.key_file", s.KeyFile}} {
		if p[1] == "" {
			l.errs.add(l.origin("certs.static.enabled"), p[0], ErrMissing, "certs.static is enabled but "+l.spell(p[0])+" is not set")
		}
	}
	switch {
	case s.CertFile == "" || s.KeyFile == "":
	case t.CertFile == "" && t.KeyFile == "":
		t.CertFile, t.KeyFile = s.CertFile, s.KeyFile
		c.meta.origins["tls.cert_file"] = implied("certs.static.cert_file")
		c.meta.origins["tls.key_file"] = implied("certs.static.key_file")
	case t.CertFile != s.CertFile || t.KeyFile != s.KeyFile:
		l.errs.add(l.origin("certs.static.cert_file"), "certs.static", ErrInvalid,
			"names another pair than tls.cert_file/key_file ("+l.origin("tls.cert_file")+"); they mean the same, set one")
	}
}

// loopbackDefault makes a bare ":port" listen on loopback.
func loopbackDefault(addr string) string {
	if strings.HasPrefix(addr, ":") {
		return "127.0.0.1" + addr
	}
	return addr
}

// validate checks the resolved configuration.
func (l *loader) validate() {
	c := l.cfg
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.Log.Level)); err != nil {
		l.errs.add(l.origin("log.level"), "log.level", ErrInvalid, fmt.Sprintf("invalid level %q: use debug, info, warn or error", c.Log.Level))
	}
	switch c.Log.Format {
	case "plain", "json", "pretty":
	default:
		l.errs.add(l.origin("log.format"), "log.format", ErrInvalid, fmt.Sprintf("invalid format %q: use plain, json or pretty", c.Log.Format))
	}
	l.port("server.port", c.Server.Port, true)
	if h := c.Engine.Host; h != "" && !validHostname(h) {
		l.errs.add(l.origin("engine.host"), "engine.host", ErrInvalid, fmt.Sprintf("%q is not a host name (no scheme, port or path)", h))
	}
	l.validateTLS()
	l.validateListeners()
	l.validateRelay()
	if j := c.Auth.JWT; j.Enabled && j.TokenJWTSecret == "" {
		l.errs.add(l.origin("auth.jwt.enabled"), "auth.jwt.token_jwt_secret", ErrMissing, "auth.jwt is enabled but "+l.spell("auth.jwt.token_jwt_secret")+" is not set")
	}
}

func (l *loader) port(key string, p int, zeroOK bool) {
	if p < 0 || p > 65535 || (p == 0 && !zeroOK) {
		l.errs.add(l.origin(key), key, ErrInvalid, fmt.Sprintf("port %d is out of range", p))
	}
}

// addr checks a host:port value; an empty one is fine.
func (l *loader) addr(key, origin, a string) bool {
	if a == "" {
		return true
	}
	_, p, err := net.SplitHostPort(a)
	if err == nil {
		var n int
		if n, err = strconv.Atoi(p); err == nil && (n < 0 || n > 65535) {
			err = fmt.Errorf("port %d is out of range", n)
		}
	}
	if err != nil {
		l.errs.add(origin, key, ErrInvalid, fmt.Sprintf("%q is not host:port (%v)", a, err))
		return false
	}
	return true
}

func (l *loader) validateTLS() {
	t := &l.cfg.TLS
	for _, p := range [][2]string{{"tls.cert_file", "tls.key_file"}, {"tls.key_file", "tls.cert_file"}} {
		have, want := p[0], p[1]
		if v, _ := l.cfg.Get(have); v != "" {
			if w, _ := l.cfg.Get(want); w == "" {
				l.errs.add(l.origin(have), want, ErrMissing, have+" is set but "+l.spell(want)+" is not")
			}
		}
	}
	for i, cp := range t.Certificates {
		name := "tls.certificates[" + strconv.Itoa(i) + "]"
		if cp.CertFile == "" || cp.KeyFile == "" {
			l.errs.add(l.origin("tls.certificates"), name, ErrMissing, "a certificate needs both cert_file and key_file")
		}
	}
	switch t.Accept {
	case "loop", "netpoll":
	default:
		l.errs.add(l.origin("tls.accept"), "tls.accept", ErrInvalid, fmt.Sprintf("invalid accept mode %q: use netpoll or loop", t.Accept))
	}
	if !t.Enabled {
		if len(t.Routes) > 0 || t.DefaultService != "" {
			l.errs.add(l.origin("tls.routes"), "tls.routes", ErrInvalid, "TLS routes need TLS: set tls.enabled and a certificate")
		}
		return
	}
	l.port("tls.server_port", t.ServerPort, false)
	l.addr("tls.listen_addr", l.origin("tls.listen_addr"), t.ListenAddr)
	terminates := t.DefaultService != ""
	seen := map[string]int{}
	for i, r := range t.Routes {
		name := "tls.routes[" + strconv.Itoa(i) + "]"
		o := l.origin("tls.routes")
		if r.Host == "" {
			l.errs.add(o, name+".host", ErrMissing, "a route needs the host (SNI) it matches")
		} else if !validHostname(strings.TrimPrefix(r.Host, "*.")) {
			l.errs.add(o, name+".host", ErrInvalid, fmt.Sprintf("%q is not a host name or *.<host> wildcard", r.Host))
		}
		if j, dup := seen[r.Host+"\x00"+r.ALPN]; dup {
			l.errs.add(o, name, ErrInvalid, fmt.Sprintf("same host and alpn as tls.routes[%d]", j))
		}
		seen[r.Host+"\x00"+r.ALPN] = i
		switch {
		case (r.Service == "") == (r.Passthrough == ""):
			l.errs.add(o, name, ErrMissing, "a route needs exactly one of service and passthrough")
		case r.Passthrough != "":
			l.addr(name+".passthrough", o, r.Passthrough)
		case !validService(r.Service):
			l.errs.add(o, name+".service", ErrInvalid, fmt.Sprintf("%q is not a service name (api, relay or a name of letters, digits, - and _)", r.Service))
		default:
			terminates = true
		}
	}
	if t.DefaultService != "" && !validService(t.DefaultService) {
		l.errs.add(l.origin("tls.default_service"), "tls.default_service", ErrInvalid, fmt.Sprintf("%q is not a service name", t.DefaultService))
	}
	// The base host terminates TLS unless every route passes through.
	if len(t.Routes) == 0 {
		terminates = true
	}
	if terminates && t.CertFile == "" && t.KeyFile == "" && len(t.Certificates) == 0 {
		l.errs.add(l.origin("tls.enabled"), "tls.cert_file", ErrMissing,
			"TLS is enabled but no certificate is configured: set "+l.spell("tls.cert_file")+" and "+l.spell("tls.key_file"))
	}
}

func (l *loader) validateListeners() {
	c := l.cfg
	h := c.HTTP
	l.addr("http.listen_addr", l.origin("http.listen_addr"), h.ListenAddr)
	l.addr("http.acme_passthrough", l.origin("http.acme_passthrough"), h.AcmePassthrough)
	switch {
	case h.RedirectToHTTPS && !c.TLS.Enabled:
		l.errs.add(l.origin("http.redirect_to_https"), "http.redirect_to_https", ErrInvalid, "redirecting to HTTPS needs TLS: set tls.enabled and a certificate")
	case h.RedirectToHTTPS && h.ListenAddr == "":
		l.errs.add(l.origin("http.redirect_to_https"), "http.listen_addr", ErrMissing, "TLS listens on the plain port "+c.TLS.ListenAddr+": set "+l.spell("http.listen_addr")+" for the redirects")
	case h.ListenAddr != "" && !c.TLS.Enabled:
		l.errs.add(l.origin("http.listen_addr"), "http.listen_addr", ErrInvalid, "the HTTP listener redirects to HTTPS, which needs TLS: set tls.enabled and a certificate")
	case h.ListenAddr != "" && h.ListenAddr == c.TLS.ListenAddr:
		l.errs.add(l.origin("http.listen_addr"), "http.listen_addr", ErrInvalid, "is also tls.listen_addr")
	}
	if h.AcmePassthrough != "" && h.ListenAddr == "" {
		l.errs.add(l.origin("http.acme_passthrough"), "http.listen_addr", ErrMissing, "http.acme_passthrough needs "+l.spell("http.listen_addr"))
	}
	p := c.Metrics.Prometheus
	if l.addr("metrics.prometheus.listen_addr", l.origin("metrics.prometheus.listen_addr"), p.ListenAddr) &&
		p.ListenAddr != "" && !isLoopback(p.ListenAddr) && p.BearerToken == "" {
		l.errs.add(l.origin("metrics.prometheus.listen_addr"), "metrics.prometheus.bearer_token", ErrMissing,
			fmt.Sprintf("metrics listen on %s, beyond loopback: set %s, or listen on 127.0.0.1", p.ListenAddr, l.spell("metrics.prometheus.bearer_token")))
	}
	a := c.Admin
	if l.addr("admin.listen_addr", l.origin("admin.listen_addr"), a.ListenAddr) && a.ListenAddr != "" && !isLoopback(a.ListenAddr) {
		l.warn("admin.listen_addr %s is beyond loopback and has no authentication", a.ListenAddr)
	}
	if a.Pprof && a.ListenAddr == "" {
		l.errs.add(l.origin("admin.pprof"), "admin.listen_addr", ErrMissing, "admin.pprof needs "+l.spell("admin.listen_addr"))
	}
}

func (l *loader) validateRelay() {
	r := &l.cfg.Relay
	o := l.origin("relay.url")
	if r.URL != "" {
		u, err := url.Parse(r.URL)
		switch {
		case err != nil:
			l.errs.add(o, "relay.url", ErrInvalid, "not a URL: "+redactURLError(err))
		case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
			l.errs.add(o, "relay.url", ErrInvalid, "needs an http:// or https:// URL with a host, got "+redactURL(r.URL))
		}
		if r.License == "" {
			l.errs.add(o, "relay.license", ErrMissing, "relay.url is set but "+l.spell("relay.license")+" is not")
		}
	}
	if len(r.Routes) > 0 && r.URL == "" {
		l.errs.add(l.origin("relay.routes"), "relay.url", ErrMissing, "relay.routes need "+l.spell("relay.url"))
	}
	mtls := []string{"relay.ca_file", "relay.client_cert_file", "relay.client_key_file"}
	var set, unset []string
	for _, k := range mtls {
		if v, _ := l.cfg.Get(k); v != "" {
			set = append(set, k)
		} else {
			unset = append(unset, l.spell(k))
		}
	}
	if len(set) > 0 && len(unset) > 0 {
		l.errs.add(l.origin(set[0]), strings.Join(set, ", "), ErrMissing,
			"mutual TLS to the relay upstream is partly configured: also set "+strings.Join(unset, " and "))
	}
	for i, rt := range r.Routes {
		name := "relay.routes[" + strconv.Itoa(i) + "]"
		if rt.Host == "" && rt.PathPrefix == "" {
			l.errs.add(l.origin("relay.routes"), name, ErrMissing, "a relay route needs a host, a path_prefix or both")
		}
		if rt.PathPrefix != "" && !strings.HasPrefix(rt.PathPrefix, "/") {
			l.errs.add(l.origin("relay.routes"), name+".path_prefix", ErrInvalid, fmt.Sprintf("%q must start with /", rt.PathPrefix))
		}
	}
	if !validToken(r.LicenseHeader) {
		l.errs.add(l.origin("relay.license_header"), "relay.license_header", ErrInvalid, fmt.Sprintf("%q is not a header name", r.LicenseHeader))
	}
	if !strings.HasPrefix(r.IngestPath, "/") {
		l.errs.add(l.origin("relay.ingest_path"), "relay.ingest_path", ErrInvalid, fmt.Sprintf("%q must start with /", r.IngestPath))
	}
	for _, p := range []struct {
		key string
		v   int64
	}{
		{"relay.timeout", int64(r.Timeout)},
		{"relay.max_body_bytes", int64(r.MaxBodyBytes)},
		{"relay.batch_max_records", int64(r.BatchMaxRecords)},
		{"relay.flush_interval", int64(r.FlushInterval)},
	} {
		if p.v <= 0 {
			l.errs.add(l.origin(p.key), p.key, ErrInvalid, "must be positive")
		}
	}
	if r.BatchMaxRecords > maxBatchRecords {
		l.errs.add(l.origin("relay.batch_max_records"), "relay.batch_max_records", ErrInvalid, fmt.Sprintf("%d is over the most a batch may hold, %d", r.BatchMaxRecords, maxBatchRecords))
	}
	if r.SpoolMaxBytes < 0 {
		l.errs.add(l.origin("relay.spool_max_bytes"), "relay.spool_max_bytes", ErrInvalid, "must not be negative")
	}
}

// maxBatchRecords is relay.MaxBatchRecords (config imports no stage).
const maxBatchRecords = 10000

// isLoopback reports whether a host:port listens on loopback only.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

func validHostname(h string) bool {
	if len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			b := label[i]
			if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '-') {
				return false
			}
		}
	}
	return true
}

func validService(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '-' || b == '_') {
			return false
		}
	}
	return true
}

// validToken reports whether s is an HTTP header name (RFC 9110 token).
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if b <= ' ' || b >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, b) >= 0 {
			return false
		}
	}
	return true
}
