package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// load is Load with an in-memory file (none when data is empty).
func load(t *testing.T, data string, env []string, flags ...Setting) (*Config, error) {
	t.Helper()
	src := Sources{Environ: env, Flags: flags}
	if data != "" {
		src.File, src.Data = "brink.yaml", []byte(data)
	}
	return Load(src)
}

func mustLoad(t *testing.T, data string, env []string, flags ...Setting) *Config {
	t.Helper()
	c, err := load(t, data, env, flags...)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

func TestDefaults(t *testing.T) {
	c := mustLoad(t, "", nil)
	want := Default()
	for _, k := range Keys() {
		got, _ := c.Get(k.Name)
		def, _ := want.Get(k.Name)
		if !reflect.DeepEqual(got, def) {
			t.Errorf("%s = %#v, want the default %#v", k.Name, got, def)
		}
		if o := c.Origin(k.Name); o != "default" {
			t.Errorf("Origin(%s) = %q, want default", k.Name, o)
		}
	}
	if c.TLS.Enabled || c.PlainAddr() != "[::]:3063" {
		t.Errorf("defaults: TLS %v, plain %q; want plain HTTP on [::]:3063", c.TLS.Enabled, c.PlainAddr())
	}
}

// TestPrecedence is the matrix flag > env (BRINK_ > unprefixed) > YAML >
// default, for a scalar, a nested scalar, a list of strings and a nested
// list of mappings.
func TestPrecedence(t *testing.T) {
	type layer struct{ yaml, env, brink, flag string }
	tests := []struct {
		key    string
		layers layer // the value each layer gives, in its own syntax
		yamlAt string
		envVar string
		get    func(*Config) string
		values [5]string // default, yaml, env, brink env, flag
	}{
		{
			key:    "server.port",
			layers: layer{yaml: "server:\n  port: 1001\n", env: "PORT=1002", brink: "BRINK_SERVER__PORT=1003", flag: "1004"},
			get:    func(c *Config) string { return formatScalar(reflect.ValueOf(c.Server.Port), kindInt) },
			values: [5]string{"3063", "1001", "1002", "1003", "1004"},
		},
		{
			key: "metrics.prometheus.listen_addr",
			layers: layer{yaml: "metrics:\n  prometheus:\n    listen_addr: 127.0.0.1:1\n", env: "BRINK_UNUSED=x",
				brink: "BRINK_METRICS__PROMETHEUS__LISTEN_ADDR=127.0.0.1:3", flag: "127.0.0.1:4"},
			get:    func(c *Config) string { return c.Metrics.Prometheus.ListenAddr },
			values: [5]string{"", "127.0.0.1:1", "127.0.0.1:1", "127.0.0.1:3", "127.0.0.1:4"},
		},
		{
			key:    "server.cors_origin",
			layers: layer{yaml: "server:\n  cors_origin: [https://y1, https://y2]\n", env: "CORS_ORIGIN=https://e1,https://e2", brink: "BRINK_SERVER__CORS_ORIGIN=[https://b1]", flag: "https://f1,https://f2"},
			get:    func(c *Config) string { return strings.Join(c.Server.CORSOrigin, " ") },
			values: [5]string{"", "https://y1 https://y2", "https://e1 https://e2", "https://b1", "https://f1 https://f2"},
		},
		{
			key:    "tls.accept",
			layers: layer{yaml: "tls:\n  accept: loop\n", env: "BRINK_UNUSED=x", brink: "BRINK_TLS__ACCEPT=netpoll", flag: "loop"},
			get:    func(c *Config) string { return c.TLS.Accept },
			values: [5]string{"netpoll", "loop", "loop", "netpoll", "loop"},
		},
		{
			key: "tls.routes",
			layers: layer{
				yaml:  "tls:\n  cert_file: c.pem\n  key_file: k.pem\n  routes:\n    - host: y.example.com\n      service: api\n",
				env:   "EDGE_TLS_CERT_FILE=c.pem",
				brink: "BRINK_TLS__ROUTES=[{host: b.example.com, service: relay}, {host: p.example.com, passthrough: '127.0.0.1:8443'}]",
				flag:  "{host: f.example.com, service: api}",
			},
			get: func(c *Config) string {
				var s []string
				for _, r := range c.TLS.Routes {
					s = append(s, r.Host+">"+r.Service+r.Passthrough)
				}
				return strings.Join(s, " ")
			},
			values: [5]string{"", "y.example.com>api", "y.example.com>api", "b.example.com>relay p.example.com>127.0.0.1:8443", "f.example.com>api"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			// Layers present: a bit each for yaml, env, brink env, flag.
			for mask := range 16 {
				var data string
				var env []string
				var flags []Setting
				want, wantOrigin := tt.values[0], "default"
				if mask&1 != 0 {
					data = tt.layers.yaml
					want, wantOrigin = tt.values[1], "yaml:brink.yaml:"
				}
				if mask&2 != 0 {
					env = append(env, tt.layers.env)
					if !strings.HasPrefix(tt.layers.env, "BRINK_UNUSED") && !strings.HasPrefix(tt.layers.env, "EDGE_TLS") {
						want, wantOrigin = tt.values[2], "env:"+strings.Split(tt.layers.env, "=")[0]
					}
				}
				if mask&4 != 0 {
					env = append(env, tt.layers.brink)
					want, wantOrigin = tt.values[3], "env:"+strings.Split(tt.layers.brink, "=")[0]
				}
				if mask&8 != 0 {
					flags = append(flags, Setting{Key: tt.key, Values: []string{tt.layers.flag}, Origin: "flag:--x"})
					want, wantOrigin = tt.values[4], "flag:--x"
				}
				if tt.key == "tls.routes" && mask&1 == 0 {
					env = append(env, "EDGE_TLS_CERT_FILE=c.pem", "EDGE_TLS_KEY_FILE=k.pem")
				}
				c, err := load(t, data, env, flags...)
				if err != nil {
					t.Fatalf("layers %04b: %v", mask, err)
				}
				if got := tt.get(c); got != want {
					t.Errorf("layers %04b: %s = %q, want %q", mask, tt.key, got, want)
				}
				if got := c.Origin(tt.key); !strings.HasPrefix(got, wantOrigin) {
					t.Errorf("layers %04b: Origin(%s) = %q, want %q...", mask, tt.key, got, wantOrigin)
				}
			}
		})
	}
}

func TestBrinkEnvNesting(t *testing.T) {
	c := mustLoad(t, "", []string{
		"BRINK_TLS__LISTEN_ADDR=:8443",
		"BRINK_TLS__CERT_FILE=/c.pem",
		"BRINK_TLS__KEY_FILE=/k.pem",
		"BRINK_METRICS__PROMETHEUS__LISTEN_ADDR=0.0.0.0:9090",
		"BRINK_METRICS__PROMETHEUS__BEARER_TOKEN=tok",
		"BRINK_RELAY__TIMEOUT=2s",
		"BRINK_RELAY__SPOOL_MAX_BYTES=1GiB",
		"BRINK_AUTH__JWT__ENABLED=true",
		"BRINK_AUTH__JWT__TOKEN_JWT_SECRET=jwt",
		"BRINK_EDGE__TOKENS=a:b.c,d:e.f",
		"BRINK_OFFLINE__DEMO=1",
		"BRINK_REQUIRE_E2E=1",      // another tool's variable: ignored
		"BRINK_SIGNAL_CAPTURE=off", // a legacy alias
		"BRINK_SERVER=loop",
	})
	checks := []struct {
		name string
		got  any
		want any
	}{
		{"tls.listen_addr", c.TLS.ListenAddr, ":8443"},
		{"tls.enabled", c.TLS.Enabled, true},
		{"metrics.prometheus.bearer_token", c.Metrics.Prometheus.BearerToken, "tok"},
		{"relay.timeout", c.Relay.Timeout, 2 * time.Second},
		{"relay.spool_max_bytes", c.Relay.SpoolMaxBytes, Size(1 << 30)},
		{"auth.jwt.enabled", c.Auth.JWT.Enabled, true},
		{"edge.tokens", c.Edge.Tokens, []string{"a:b.c", "d:e.f"}},
		{"offline.demo", c.Offline.Demo, true},
		{"server.signal_capture", c.Server.SignalCapture, "off"},
		{"server.front", c.Server.Front, "loop"},
	}
	for _, ck := range checks {
		if !reflect.DeepEqual(ck.got, ck.want) {
			t.Errorf("%s = %#v, want %#v", ck.name, ck.got, ck.want)
		}
	}
	if o := c.Origin("metrics.prometheus.bearer_token"); o != "env:BRINK_METRICS__PROMETHEUS__BEARER_TOKEN" {
		t.Errorf("origin = %q", o)
	}
	if o := c.Origin("server.front"); o != "env:BRINK_SERVER" {
		t.Errorf("origin of server.front = %q, want env:BRINK_SERVER", o)
	}
	if c.PlainAddr() != "" {
		t.Errorf("PlainAddr = %q with TLS on, want none", c.PlainAddr())
	}

	// A flat name that looks like a key is a warning, not an error.
	c = mustLoad(t, "", []string{"BRINK_TLS_LISTEN_ADDR=:1"})
	if w := c.Warnings(); len(w) != 1 || !strings.Contains(w[0], "BRINK_TLS__LISTEN_ADDR") {
		t.Errorf("warnings = %q, want one naming BRINK_TLS__LISTEN_ADDR", w)
	}
}

// TestSeedNames: the Octet edge's environment (seed 000), Unleash Edge's
// TLS options and rstream CE's YAML (seed 001) work unchanged.
func TestSeedNames(t *testing.T) {
	t.Run("octet", func(t *testing.T) {
		c := mustLoad(t, "", []string{
			"PORT=443",
			"OCTET_URL=https://api.octet.example",
			"LICENSE=lic-abc",
			"EDGE_TLS_CERT_FILE=/etc/letsencrypt/live/o/fullchain.pem",
			"EDGE_TLS_KEY_FILE=/etc/letsencrypt/live/o/privkey.pem",
			"OCTET_CA_FILE=/etc/octet/octet-ca.pem",
			"EDGE_CLIENT_CERT_FILE=/etc/octet/edge.crt",
			"EDGE_CLIENT_KEY_FILE=/etc/octet/edge.key",
		})
		if !c.TLS.Enabled || c.TLS.ListenAddr != "[::]:443" || c.PlainAddr() != "" {
			t.Errorf("TLS %v on %q, plain %q: want TLS instead of plain HTTP on PORT", c.TLS.Enabled, c.TLS.ListenAddr, c.PlainAddr())
		}
		if c.TLS.CertFile != "/etc/letsencrypt/live/o/fullchain.pem" || c.Origin("tls.cert_file") != "env:EDGE_TLS_CERT_FILE" {
			t.Errorf("cert %q from %q", c.TLS.CertFile, c.Origin("tls.cert_file"))
		}
		r := c.Relay
		if r.URL != "https://api.octet.example" || r.License != "lic-abc" || r.CAFile == "" || r.ClientCertFile == "" || r.ClientKeyFile == "" {
			t.Errorf("relay = %+v", r)
		}
	})
	t.Run("octet plain", func(t *testing.T) {
		c := mustLoad(t, "", []string{"PORT=8080", "OCTET_URL=http://127.0.0.1:9", "LICENSE=x"})
		if c.TLS.Enabled || c.PlainAddr() != "[::]:8080" {
			t.Errorf("TLS %v, plain %q: want plain HTTP on 8080", c.TLS.Enabled, c.PlainAddr())
		}
	})
	t.Run("unleash", func(t *testing.T) {
		c := mustLoad(t, "", []string{"TLS_ENABLE=true", "TLS_SERVER_CERT=/c.pem", "TLS_SERVER_KEY=/k.pem", "INTERFACE=127.0.0.1"})
		if !c.TLS.Enabled || c.TLS.ListenAddr != "127.0.0.1:3043" {
			t.Errorf("TLS %v on %q, want 127.0.0.1:3043", c.TLS.Enabled, c.TLS.ListenAddr)
		}
		c = mustLoad(t, "", []string{"TLS_SERVER_CERT=/c.pem", "TLS_SERVER_KEY=/k.pem", "TLS_SERVER_PORT=4443", "REDIRECT_HTTP_TO_HTTPS=true"})
		if c.TLS.ListenAddr != "[::]:4443" || c.HTTP.ListenAddr != "[::]:3063" {
			t.Errorf("TLS on %q, redirects on %q; want [::]:4443 and [::]:3063", c.TLS.ListenAddr, c.HTTP.ListenAddr)
		}
	})
	t.Run("rstream", func(t *testing.T) {
		c, err := Load(Sources{File: "testdata/rstream-ce.yaml", Environ: []string{
			"BRINK_AUTH__JWT__TOKEN_JWT_SECRET=from-env",
			"BRINK_CERTS__STATIC__CERT_FILE=/run/cert.pem",
			"BRINK_CERTS__STATIC__KEY_FILE=/run/key.pem",
			"BRINK_TLS__LISTEN_ADDR=[::]:443",
			"BRINK_HTTP__LISTEN_ADDR=[::]:80",
			"BRINK_METRICS__PROMETHEUS__LISTEN_ADDR=127.0.0.1:9090",
		}})
		if err != nil {
			t.Fatal(err)
		}
		if c.Engine.Host != "edge.example.com" || c.TLS.CertFile != "/run/cert.pem" || c.TLS.ListenAddr != "[::]:443" ||
			c.HTTP.ListenAddr != "[::]:80" || c.Auth.JWT.TokenJWTSecret != "from-env" {
			t.Errorf("config = %+v", c)
		}
	})
	t.Run("unprefixed scope", func(t *testing.T) {
		// Kubernetes sets REDIS_PORT=tcp://... for a service named redis:
		// offline does not read the edge section's variables.
		env := []string{"REDIS_PORT=tcp://10.0.0.1:6379", "TOKENS=a:b.c"}
		c, err := Load(Sources{Environ: env, SkipEnv: []string{"edge", "engine", "tls"}})
		if err != nil {
			t.Fatal(err)
		}
		if c.Edge.RedisPort != 0 || len(c.Offline.Tokens) != 1 {
			t.Errorf("edge.redis_port %d, offline.tokens %q", c.Edge.RedisPort, c.Offline.Tokens)
		}
		if _, err := Load(Sources{Environ: env}); err == nil || !strings.Contains(err.Error(), "env:REDIS_PORT") {
			t.Errorf("edge's REDIS_PORT=tcp://... = %v, want an error naming env:REDIS_PORT", err)
		}
	})
}

// TestErrors: every problem names its origin (line, variable, flag) and key.
func TestErrors(t *testing.T) {
	tests := []struct {
		name  string
		yaml  string
		env   []string
		flags []Setting
		kind  error
		want  []string // substrings of the message
	}{
		{"unknown key", "tls:\n  enabled: false\n  listen_adr: :443\n", nil, nil, ErrUnknownKey,
			[]string{"brink.yaml:3: tls.listen_adr: unknown key (did you mean tls.listen_addr?)"}},
		{"unknown section", "tsl:\n  enabled: true\n", nil, nil, ErrUnknownKey, []string{"brink.yaml:1: tsl: unknown key (did you mean tls?)"}},
		{"unknown item key", "relay:\n  url: https://o.example\n  license: x\n  routes:\n    - host: a\n      prefix: /x\n", nil, nil, ErrUnknownKey,
			[]string{"brink.yaml:6: relay.routes[0].prefix: unknown key"}},
		{"wrong type int", "server:\n  port: eighty\n", nil, nil, ErrType, []string{`brink.yaml:2: server.port: invalid integer "eighty"`}},
		{"wrong type bool", "tls:\n  enabled: maybe\n", nil, nil, ErrType, []string{`brink.yaml:2: tls.enabled: invalid boolean "maybe"`}},
		{"wrong type mapping", "log:\n  level:\n    x: 1\n", nil, nil, ErrType, []string{"brink.yaml:2: log.level: expected a string, got a mapping"}},
		{"wrong type list", "tls:\n  routes: api\n", nil, nil, ErrType, []string{"brink.yaml:2: tls.routes: expected a list of mappings, got a scalar"}},
		{"wrong type section", "metrics: 9090\n", nil, nil, ErrType, []string{"brink.yaml:1: metrics: metrics must be a mapping"}},
		{"duration", "relay:\n  timeout: 30\n", nil, nil, ErrType, []string{`brink.yaml:2: relay.timeout: invalid duration "30"`}},
		{"size", "relay:\n  max_body_bytes: lots\n", nil, nil, ErrType, []string{`brink.yaml:2: relay.max_body_bytes: invalid size "lots"`}},
		{"duplicate", "log:\n  level: info\n  level: debug\n", nil, nil, ErrSyntax, []string{"brink.yaml:3: log.level: key given twice (first on line 2)"}},
		{"syntax", "log:\n  level: [info\n", nil, nil, ErrSyntax, []string{"brink.yaml:"}},
		{"two documents", "log: {}\n---\nlog: {}\n", nil, nil, ErrSyntax, []string{"second YAML document"}},
		{"env type", "", []string{"PORT=eighty"}, nil, ErrType, []string{`env:PORT: server.port: invalid integer "eighty"`}},
		{"env unknown", "", []string{"BRINK_TLS__LISTEN=:1"}, nil, ErrUnknownKey, []string{"env:BRINK_TLS__LISTEN: tls.listen: unknown key (did you mean tls.listen_addr?)"}},
		{"env section", "", []string{"BRINK_METRICS__PROMETHEUS=x"}, nil, ErrUnknownKey, []string{"env:BRINK_METRICS__PROMETHEUS: metrics.prometheus: names a section"}},
		{"env list yaml", "", []string{"BRINK_RELAY__ROUTES=[{hots: a}]"}, nil, ErrUnknownKey, []string{"env:BRINK_RELAY__ROUTES: relay.routes[0].hots: unknown key (did you mean host?)"}},
		{"env conflict", "", []string{"EDGE_TLS_CERT_FILE=/a", "TLS_SERVER_CERT=/b", "EDGE_TLS_KEY_FILE=/k"}, nil, ErrInvalid, []string{"env:TLS_SERVER_CERT: tls.cert_file: EDGE_TLS_CERT_FILE and TLS_SERVER_CERT both set it"}},
		{"flag type", "", nil, []Setting{{Key: "server.port", Values: []string{"x"}, Origin: "flag:--port"}}, ErrType, []string{`flag:--port: server.port: invalid integer "x"`}},
		{"log format", "", nil, []Setting{{Key: "log.format", Values: []string{"xml"}, Origin: "flag:--log-format"}}, ErrInvalid, []string{`flag:--log-format: log.format: invalid format "xml"`}},
		{"tls without certificate", "tls:\n  enabled: true\n", nil, nil, ErrMissing,
			[]string{"brink.yaml:2: tls.cert_file: TLS is enabled but no certificate is configured: set tls.cert_file (EDGE_TLS_CERT_FILE, TLS_SERVER_CERT, BRINK_TLS__CERT_FILE)"}},
		{"cert without key", "", []string{"EDGE_TLS_CERT_FILE=/c.pem"}, nil, ErrMissing,
			[]string{"env:EDGE_TLS_CERT_FILE: tls.key_file: tls.cert_file is set but tls.key_file (EDGE_TLS_KEY_FILE, TLS_SERVER_KEY, BRINK_TLS__KEY_FILE) is not"}},
		{"static half", "certs:\n  static:\n    enabled: true\n    cert_file: /c\n", nil, nil, ErrMissing, []string{"brink.yaml:3: certs.static.key_file: certs.static is enabled but"}},
		{"static differs", "tls:\n  cert_file: /a\n  key_file: /b\ncerts:\n  static:\n    cert_file: /c\n    key_file: /d\n", nil, nil, ErrInvalid, []string{"brink.yaml:6: certs.static: names another pair"}},
		{"route service and passthrough", "tls:\n  cert_file: /c\n  key_file: /k\n  routes:\n    - host: a.example\n      service: api\n      passthrough: b:1\n", nil, nil, ErrMissing,
			[]string{"brink.yaml:4: tls.routes[0]: a route needs exactly one of service and passthrough"}},
		{"tls accept", "tls:\n  accept: epoll\n", nil, nil, ErrInvalid, []string{`brink.yaml:2: tls.accept: invalid accept mode "epoll": use netpoll or loop`}},
		{"route without tls", "tls:\n  routes:\n    - {host: a.example, service: api}\n", nil, nil, ErrInvalid, []string{"tls.routes: TLS routes need TLS"}},
		{"redirect without tls", "http:\n  listen_addr: ':80'\n", nil, nil, ErrInvalid, []string{"brink.yaml:2: http.listen_addr: the HTTP listener redirects to HTTPS, which needs TLS"}},
		{"prometheus beyond loopback", "metrics:\n  prometheus:\n    listen_addr: 0.0.0.0:9090\n", nil, nil, ErrMissing,
			[]string{"brink.yaml:3: metrics.prometheus.bearer_token: metrics listen on 0.0.0.0:9090, beyond loopback: set metrics.prometheus.bearer_token (BRINK_METRICS__PROMETHEUS__BEARER_TOKEN)"}},
		{"pprof without listener", "admin:\n  pprof: true\n", nil, nil, ErrMissing, []string{"brink.yaml:2: admin.listen_addr: admin.pprof needs"}},
		{"relay without license", "", []string{"OCTET_URL=https://o.example"}, nil, ErrMissing, []string{"env:OCTET_URL: relay.license: relay.url is set but relay.license (LICENSE, BRINK_RELAY__LICENSE) is not"}},
		{"relay url", "", []string{"OCTET_URL=ftp://u:pw@o.example", "LICENSE=x"}, nil, ErrInvalid, []string{"env:OCTET_URL: relay.url: needs an http:// or https:// URL with a host, got ftp://<redacted>@o.example"}},
		{"partial mtls", "", []string{"OCTET_URL=https://o.example", "LICENSE=x", "OCTET_CA_FILE=/ca.pem"}, nil, ErrMissing,
			[]string{"env:OCTET_CA_FILE: relay.ca_file: mutual TLS to the relay upstream is partly configured: also set relay.client_cert_file (EDGE_CLIENT_CERT_FILE, BRINK_RELAY__CLIENT_CERT_FILE) and relay.client_key_file (EDGE_CLIENT_KEY_FILE, BRINK_RELAY__CLIENT_KEY_FILE)"}},
		{"relay route", "relay:\n  url: https://o.example\n  license: x\n  routes:\n    - {}\n", nil, nil, ErrMissing, []string{"brink.yaml:4: relay.routes[0]: a relay route needs a host, a path_prefix or both"}},
		{"jwt secret", "auth:\n  jwt:\n    enabled: true\n", nil, nil, ErrMissing, []string{"brink.yaml:3: auth.jwt.token_jwt_secret: auth.jwt is enabled but auth.jwt.token_jwt_secret (BRINK_AUTH__JWT__TOKEN_JWT_SECRET) is not set"}},
		{"engine host", "engine:\n  host: https://edge.example.com\n", nil, nil, ErrInvalid, []string{"brink.yaml:2: engine.host:"}},
		{"several", "server:\n  port: x\nlog:\n  level: loud\n  colour: red\n", nil, nil, ErrType, []string{"brink.yaml:2: server.port", "brink.yaml:5: log.colour: unknown key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := load(t, tt.yaml, tt.env, tt.flags...)
			if err == nil {
				t.Fatalf("Load succeeded: %+v", c)
			}
			if !errors.Is(err, tt.kind) {
				t.Errorf("error %q is not %v", err, tt.kind)
			}
			var ce *Error
			if !errors.As(err, &ce) || ce.Origin == "" {
				t.Errorf("error %q carries no *Error with an origin", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error:\n%s\nwant it to contain:\n%s", err, w)
				}
			}
		})
	}
}

func TestFlagNamesInMessages(t *testing.T) {
	_, err := Load(Sources{
		Environ:   []string{"TLS_ENABLE=1"},
		FlagNames: map[string]string{"tls.cert_file": "--tls-server-cert", "tls.key_file": "--tls-server-key"},
	})
	if err == nil || !strings.Contains(err.Error(), "env:TLS_ENABLE: tls.cert_file: TLS is enabled but no certificate is configured: set tls.cert_file (EDGE_TLS_CERT_FILE, TLS_SERVER_CERT, BRINK_TLS__CERT_FILE, --tls-server-cert)") {
		t.Errorf("error = %v", err)
	}
}

func TestMissingFile(t *testing.T) {
	_, err := Load(Sources{Environ: []string{"BRINK_CONFIG=" + filepath.Join(t.TempDir(), "none.yaml")}})
	if !errors.Is(err, ErrMissing) || !strings.Contains(err.Error(), "env:BRINK_CONFIG") {
		t.Errorf("error = %v, want a missing file named by env:BRINK_CONFIG", err)
	}
	path := filepath.Join(t.TempDir(), "brink.yaml")
	if err := os.WriteFile(path, []byte("server:\n  port: 1234\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(Sources{Environ: []string{"BRINK_CONFIG=" + path}})
	if err != nil || c.Server.Port != 1234 || c.Origin("server.port") != "yaml:"+path+":2" || c.File() != path {
		t.Errorf("Load(BRINK_CONFIG) = %v, port %d from %q", err, c.Server.Port, c.Origin("server.port"))
	}
}

func TestParseSet(t *testing.T) {
	s, err := ParseSet("tls.routes=[{host: a.example, service: api}]")
	if err != nil || s.Key != "tls.routes" || s.Origin != "flag:--set tls.routes" {
		t.Fatalf("ParseSet = %+v, %v", s, err)
	}
	for _, bad := range []string{"nokey", "=x", "tls.nope=1"} {
		if _, err := ParseSet(bad); err == nil {
			t.Errorf("ParseSet(%q) succeeded", bad)
		}
	}
	c := mustLoad(t, "", []string{"EDGE_TLS_CERT_FILE=/c", "EDGE_TLS_KEY_FILE=/k"}, s)
	if len(c.TLS.Routes) != 1 || c.TLS.Routes[0].Host != "a.example" {
		t.Errorf("routes = %+v", c.TLS.Routes)
	}
}

func TestSize(t *testing.T) {
	tests := []struct {
		in   string
		want Size
		str  string
	}{
		{"0", 0, "0"},
		{"1000", 1000, "1000"},
		{"4194304", 4 << 20, "4MiB"},
		{"64MiB", 64 << 20, "64MiB"},
		{"64 mib", 64 << 20, "64MiB"},
		{"512KiB", 512 << 10, "512KiB"},
		{"2GiB", 2 << 30, "2GiB"},
		{"10MB", 10e6, "10000000"},
		{"1kb", 1000, "1000"},
		{"7B", 7, "7"},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if err != nil || got != tt.want || got.String() != tt.str {
			t.Errorf("ParseSize(%q) = %d (%s), %v; want %d (%s)", tt.in, got, got, err, tt.want, tt.str)
		}
	}
	for _, bad := range []string{"", "-1", "1.5MiB", "MiB", "9999999999GiB", "12 parsecs"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) succeeded", bad)
		}
	}
}
