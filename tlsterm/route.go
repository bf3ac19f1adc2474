package tlsterm

import (
	"bytes"
	"fmt"
	"net"
	"strings"

	"github.com/VictoriaMetrics/metrics"

	"github.com/brink-edge/brink/proto/tlshello"
)

// Built-in service names.
const (
	// ServiceAPI serves Config.EngineHost.
	ServiceAPI = "api"
	// ServiceTunnel serves "*.t.<EngineHost>".
	ServiceTunnel = "tunnel"
)

// target is where a route sends a connection.
type target struct {
	label       string // brink_tls_routes_total's route label
	service     string // a Service name, or
	passthrough string // a backend host:port
	count       *metrics.Counter
}

type alpnTarget struct {
	alpn string
	t    *target
}

// hostRoutes are the routes of one host pattern: by ALPN first, then plain.
type hostRoutes struct {
	alpn  []alpnTarget
	plain *target
}

func (hr *hostRoutes) pick(h *tlshello.Hello) *target {
	for _, a := range hr.alpn {
		if h.HasALPN(a.alpn) {
			return a.t
		}
	}
	return hr.plain
}

// table is the routing index, built once by New and read-only after.
type table struct {
	exact map[string]*hostRoutes
	wild  map[string]*hostRoutes // "*.example.com" under "example.com"
	def   *target                // unknown SNI; nil: alert
	noSNI *target                // no SNI; nil: alert
}

// buildTable indexes cfg's routes, the built-in ones first so that
// cfg.Routes replace them.
func buildTable(cfg *Config) (*table, error) {
	t := &table{exact: map[string]*hostRoutes{}, wild: map[string]*hostRoutes{}}
	routes := make([]Route, 0, len(cfg.Routes)+2)
	if cfg.EngineHost != "" {
		eh := strings.ToLower(strings.TrimSuffix(cfg.EngineHost, "."))
		if strings.HasPrefix(eh, "*.") || !validPattern(eh) {
			return nil, fmt.Errorf("tlsterm: engine host %q is not a host name", cfg.EngineHost)
		}
		routes = append(routes, Route{Host: eh, Service: ServiceAPI}, Route{Host: "*.t." + eh, Service: ServiceTunnel})
	}
	routes = append(routes, cfg.Routes...)
	for i, r := range routes {
		host := strings.ToLower(strings.TrimSuffix(r.Host, "."))
		if !validPattern(host) {
			return nil, fmt.Errorf("tlsterm: route %d: host %q is neither a host name nor *.<host name>", i, r.Host)
		}
		if (r.Service == "") == (r.Passthrough == "") {
			return nil, fmt.Errorf("tlsterm: route %d (%s): set exactly one of service and passthrough", i, r.Host)
		}
		if r.Passthrough != "" {
			if _, _, err := net.SplitHostPort(r.Passthrough); err != nil {
				return nil, fmt.Errorf("tlsterm: route %d (%s): passthrough backend %q: %w", i, r.Host, r.Passthrough, err)
			}
		}
		if strings.ContainsAny(r.ALPN, "\"\\\n") {
			return nil, fmt.Errorf("tlsterm: route %d (%s): ALPN %q has characters not allowed here", i, r.Host, r.ALPN)
		}
		label := host
		if r.ALPN != "" {
			label += "+" + r.ALPN
		}
		tg := &target{label: label, service: r.Service, passthrough: r.Passthrough, count: routeCounter(label)}
		m, key := t.exact, host
		if strings.HasPrefix(host, "*.") {
			m, key = t.wild, host[2:]
		}
		hr := m[key]
		if hr == nil {
			hr = &hostRoutes{}
			m[key] = hr
		}
		if r.ALPN == "" {
			hr.plain = tg
			continue
		}
		replaced := false
		for j := range hr.alpn {
			if hr.alpn[j].alpn == r.ALPN {
				hr.alpn[j].t, replaced = tg, true
			}
		}
		if !replaced {
			hr.alpn = append(hr.alpn, alpnTarget{r.ALPN, tg})
		}
	}
	if cfg.Default != "" {
		t.def = &target{label: "default", service: cfg.Default, count: routeCounter("default")}
		t.noSNI = t.def
	} else if cfg.EngineHost != "" {
		hr := t.exact[strings.ToLower(strings.TrimSuffix(cfg.EngineHost, "."))]
		t.noSNI = hr.plain
	}
	return t, nil
}

// lookup returns the route for h's SNI and ALPN, or nil for an alert. It
// allocates nothing.
func (t *table) lookup(h *tlshello.Hello) *target {
	sni := h.ServerName()
	if len(sni) == 0 {
		return t.noSNI
	}
	var buf [256]byte
	n := 0
	for _, c := range sni {
		if n == len(buf) {
			return t.def
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[n] = c
		n++
	}
	if n > 0 && buf[n-1] == '.' {
		n--
	}
	name := buf[:n]
	if hr := t.exact[string(name)]; hr != nil {
		if tg := hr.pick(h); tg != nil {
			return tg
		}
	}
	if i := bytes.IndexByte(name, '.'); i > 0 {
		if hr := t.wild[string(name[i+1:])]; hr != nil {
			if tg := hr.pick(h); tg != nil {
				return tg
			}
		}
	}
	return t.def
}

// validPattern reports whether s is a lower-case host name, optionally
// prefixed by "*.".
func validPattern(s string) bool {
	s = strings.TrimPrefix(s, "*.")
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}
