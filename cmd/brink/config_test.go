package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/brink-edge/brink/config"
)

// TestEveryOptionIsAKey: each option of a configured command maps onto a
// configuration key whose unprefixed variables include the option's and
// whose default is the option's.
func TestEveryOptionIsAKey(t *testing.T) {
	defaults := config.Default()
	envOf := map[string][]string{}
	for _, k := range config.Keys() {
		envOf[k.Name] = k.Env
	}
	for i := range commands {
		cmd := &commands[i]
		if !cmd.configured {
			continue
		}
		var g globalOptions
		pre := newFlagSet("brink")
		g.register(pre)
		fs, keys, _ := commandFlags(cmd, pre, &g)
		fs.VisitAll(func(f *pflag.Flag) {
			if len(f.Annotations[noConfigAnnotation]) > 0 {
				return
			}
			key := keys.key(f)
			if key == "" {
				t.Errorf("%s: --%s maps to no configuration key", cmd, f.Name)
				return
			}
			for _, env := range f.Annotations[envAnnotation] {
				if !slices.Contains(envOf[key], env) {
					t.Errorf("%s: --%s reads %s, but %s reads %q", cmd, f.Name, env, key, envOf[key])
				}
			}
			v, _ := defaults.Get(key)
			if got := defaultText(v); got != f.DefValue {
				t.Errorf("%s: --%s defaults to %q, %s to %q", cmd, f.Name, f.DefValue, key, got)
			}
		})
	}
}

func defaultText(v any) string {
	switch v := v.(type) {
	case []string:
		return "[" + strings.Join(v, ",") + "]"
	case int:
		return strconv.Itoa(v)
	}
	return fmt.Sprint(v)
}

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "brink.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// printConfig runs `brink config print` with args before the command.
func printConfig(t *testing.T, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	if err := run(append(args, "config", "print"), &out, io.Discard); err != nil {
		t.Fatalf("config print %q: %v", args, err)
	}
	return out.String()
}

// TestPrecedenceThroughTheCLI: flag > env > YAML > default, for a global
// option, a list option and a nested list that only --set reaches.
func TestPrecedenceThroughTheCLI(t *testing.T) {
	path := writeConfig(t, `server:
  port: 1001
  cors_origin: [https://yaml.example]
tls:
  cert_file: /c.pem
  key_file: /k.pem
  routes:
    - host: yaml.example.com
      service: api
`)
	type step struct {
		env   []string
		args  []string
		wants []string
	}
	steps := []step{
		{nil, nil, []string{
			"  port: 3063 # from default\n",
			"  cors_origin: [] # from default\n",
			"  routes: [] # from default\n",
		}},
		{nil, []string{"-c", path}, []string{
			"  port: 1001 # from yaml:" + path + ":2\n",
			"  cors_origin: # from yaml:" + path + ":3\n    - https://yaml.example\n",
			"  routes: # from yaml:" + path + ":7\n    - host: yaml.example.com\n",
		}},
		{[]string{"PORT=1002", "CORS_ORIGIN=https://env.example", "BRINK_TLS__ROUTES=[{host: env.example.com, service: relay}]"}, []string{"-c", path}, []string{
			"  port: 1002 # from env:PORT\n",
			"  cors_origin: # from env:CORS_ORIGIN\n    - https://env.example\n",
			"  routes: # from env:BRINK_TLS__ROUTES\n    - host: env.example.com\n      service: relay\n",
		}},
		{[]string{"PORT=1002", "BRINK_SERVER__PORT=1003"}, []string{"-c", path}, []string{
			"  port: 1003 # from env:BRINK_SERVER__PORT\n",
		}},
		{[]string{"PORT=1002", "CORS_ORIGIN=https://env.example", "BRINK_TLS__ROUTES=[{host: env.example.com, service: relay}]"},
			[]string{"-c", path, "--port", "1004", "--cors-origin", "https://flag.example,https://flag2.example", "--set", "tls.routes=[{host: flag.example.com, passthrough: '127.0.0.1:1'}]"},
			[]string{
				"  port: 1004 # from flag:--port\n",
				"  cors_origin: # from flag:--cors-origin\n    - https://flag.example\n    - https://flag2.example\n",
				"  routes: # from flag:--set tls.routes\n    - host: flag.example.com\n      passthrough: 127.0.0.1:1\n",
			}},
		// The key's own flag beats --set.
		{nil, []string{"--set", "server.port=1005", "--port", "1006"}, []string{"  port: 1006 # from flag:--port\n"}},
		{[]string{"BRINK_CONFIG=" + path}, nil, []string{"  port: 1001 # from yaml:" + path + ":2\n"}},
	}
	for i, st := range steps {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			for _, kv := range st.env {
				k, v, _ := strings.Cut(kv, "=")
				t.Setenv(k, v)
			}
			out := printConfig(t, st.args...)
			for _, w := range st.wants {
				if !strings.Contains(out, w) {
					t.Errorf("config print %q lacks %q:\n%s", st.args, w, out)
				}
			}
		})
	}
}

// TestConfigReachesTheOptions: YAML and BRINK_ values land in the option
// structs the commands read, for global and command options alike.
func TestConfigReachesTheOptions(t *testing.T) {
	path := writeConfig(t, `server:
  port: 0
  interface: 127.0.0.1
  allow_list: [10.0.0.0/8]
log:
  format: json
edge:
  upstream_url: http://127.0.0.1:1
  tokens: ["*:development.abc"]
  streaming: false
  metrics_interval_seconds: 7
`)
	t.Setenv("BRINK_EDGE__REDIS_MODE", "cluster")
	t.Setenv("UPSTREAM_REQUEST_TIMEOUT", "9")
	inv, err := prepare([]string{"-c", path, "edge", "--features-refresh-interval-seconds", "3"}, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	g := inv.g
	if g.Port != 0 || g.Interface != "127.0.0.1" || g.LogFormat != "json" || !slices.Equal(g.AllowList, []string{"10.0.0.0/8"}) {
		t.Errorf("global options = %+v", g)
	}
	for name, want := range map[string]string{
		"upstream-url":                      "http://127.0.0.1:1",
		"tokens":                            "[*:development.abc]",
		"streaming":                         "false",
		"metrics-interval-seconds":          "7",
		"redis-mode":                        "cluster",
		"upstream-request-timeout":          "9",
		"features-refresh-interval-seconds": "3",
	} {
		if got := inv.fs.Lookup(name).Value.String(); got != want {
			t.Errorf("--%s = %q, want %q", name, got, want)
		}
	}
	if g.cfg == nil || g.cfg.Edge.UpstreamURL != "http://127.0.0.1:1" || g.cfg.Origin("edge.features_refresh_interval_seconds") != "flag:--features-refresh-interval-seconds" {
		t.Errorf("g.cfg = %+v", g.cfg)
	}

	// Offline takes its bootstrap file from YAML: the broken file's error
	// proves the path arrived.
	bootstrap := filepath.Join(t.TempDir(), "features.json")
	if err := os.WriteFile(bootstrap, []byte("{\n  nope\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path = writeConfig(t, "server:\n  port: 0\n  interface: 127.0.0.1\noffline:\n  bootstrap_file: "+bootstrap+"\n  client_tokens: [x]\n")
	err = run([]string{"--config", path, "offline"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), bootstrap+":2") {
		t.Errorf("offline with a broken bootstrap from YAML = %v, want an error naming %s:2", err, bootstrap)
	}
}

func TestConfigPrintRedacts(t *testing.T) {
	for kv, secret := range map[string]string{
		"LICENSE":                           "lic-s3cret",
		"TOKENS":                            "*:development.tok-s3cret",
		"PRETRUSTED_TOKENS":                 "fe-s3cret@production",
		"REDIS_PASSWORD":                    "redis-s3cret",
		"REDIS_URL":                         "redis://:url-s3cret@127.0.0.1:6379",
		"PKCS12_PASSPHRASE":                 "p12-s3cret",
		"CUSTOM_CLIENT_HEADERS":             "X-Api-Key: hdr-s3cret",
		"BRINK_AUTH__JWT__TOKEN_JWT_SECRET": "jwt-s3cret",
		"BRINK_METRICS__PROMETHEUS__BEARER_TOKEN": "bearer-s3cret",
	} {
		t.Setenv(kv, secret)
	}
	t.Setenv("OCTET_URL", "https://octet.example")
	var out, logs bytes.Buffer
	if err := run([]string{"--log-level", "debug", "config", "print"}, &out, &logs); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{out.String(), logs.String()} {
		if strings.Contains(s, "s3cret") {
			t.Errorf("a secret shows:\n%s", s)
		}
	}
	for _, want := range []string{
		"  license: <redacted> # from env:LICENSE\n",
		"    token_jwt_secret: <redacted> # from env:BRINK_AUTH__JWT__TOKEN_JWT_SECRET\n",
		"    - '*:development.<redacted>'\n",
		"    - <redacted>@production\n",
		"    - redis://<redacted>@127.0.0.1:6379\n",
		"    - 'X-Api-Key: <redacted>'\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("config print lacks %q", want)
		}
	}
	if !strings.Contains(logs.String(), "config.relay.license=\"<redacted> (env:LICENSE)\"") {
		t.Errorf("debug log lacks the redacted configuration: %s", logs.String())
	}
}

func TestConfigErrorsNameWhere(t *testing.T) {
	path := writeConfig(t, "server:\n  port: 0\ntls:\n  enabled: yes please\n  listen: :443\n")
	tests := []struct {
		name string
		env  []string
		args []string
		want []string
	}{
		{"yaml", nil, []string{"-c", path, "offline", "--demo"}, []string{
			path + `:4: tls.enabled: invalid boolean "yes please"`,
			path + ":5: tls.listen: unknown key (did you mean tls.listen_addr?)",
		}},
		{"env", []string{"BRINK_RELAY__TIMEOUT=soon"}, []string{"offline", "--demo"}, []string{`env:BRINK_RELAY__TIMEOUT: relay.timeout: invalid duration "soon"`}},
		{"missing", []string{"EDGE_TLS_CERT_FILE=/c.pem"}, []string{"config", "print"}, []string{"env:EDGE_TLS_CERT_FILE: tls.key_file: tls.cert_file is set but tls.key_file (EDGE_TLS_KEY_FILE, TLS_SERVER_KEY, BRINK_TLS__KEY_FILE, --tls-server-key) is not"}},
		{"set", nil, []string{"--set", "tls.nope=1", "config", "print"}, []string{"flag:--set tls.nope: tls.nope: unknown key"}},
		{"no file", nil, []string{"-c", path + ".missing", "config", "print"}, []string{"flag:--config: cannot read the configuration"}},
		{"prometheus", []string{"BRINK_METRICS__PROMETHEUS__LISTEN_ADDR=0.0.0.0:9090"}, []string{"offline", "--demo"}, []string{"metrics.prometheus.bearer_token"}},
		{"no subcommand", nil, []string{"config"}, []string{"config print"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, kv := range tt.env {
				k, v, _ := strings.Cut(kv, "=")
				t.Setenv(k, v)
			}
			err := run(tt.args, io.Discard, io.Discard)
			if err == nil || exitCode(err) != 2 {
				t.Fatalf("run(%q) = %v (exit %d), want a usage error", tt.args, err, exitCode(err))
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error:\n%v\nwant it to contain:\n%s", err, w)
				}
			}
		})
	}
}

func TestUnleashTLSOptions(t *testing.T) {
	out := printConfig(t, "--tls-enable", "--tls-server-cert", "/c.pem", "--tls-server-key", "/k.pem", "-i", "127.0.0.1")
	for _, want := range []string{
		"  enabled: true # from flag:--tls-enable\n",
		"  listen_addr: 127.0.0.1:3043 # implied by tls.server_port (Unleash Edge style)\n",
		"  cert_file: /c.pem # from flag:--tls-server-cert\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("config print lacks %q:\n%s", want, out)
		}
	}
}

// TestOtherModesVariables: a variable only the other mode reads cannot
// break a command (Kubernetes sets REDIS_PORT=tcp://... for a service
// named redis); edge, which reads it, names it.
func TestOtherModesVariables(t *testing.T) {
	t.Setenv("REDIS_PORT", "tcp://10.0.0.1:6379")
	t.Setenv("PORT", "0")
	if _, err := prepare([]string{"offline", "--demo"}, io.Discard, io.Discard); err != nil {
		t.Errorf("offline with edge's REDIS_PORT set: %v", err)
	}
	_, err := prepare([]string{"edge", "-u", "http://127.0.0.1:1"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "env:REDIS_PORT") {
		t.Errorf("edge with REDIS_PORT=tcp://... = %v, want an error naming it", err)
	}
}
