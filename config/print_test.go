package config

import (
	"bytes"
	"log/slog"
	"reflect"
	"strings"
	"testing"
)

// secretsInFull are the secret values of testdata/full.yaml (and its env).
var secretsInFull = []string{
	"metrics-token-xyz", "lic-123456", "hunter2", "redispw", "upstream-secret",
	"abcdef0123456789", "fe1234", "legacysecret", "user:pw", "client123", "env-license",
}

func loadFull(t *testing.T) *Config {
	t.Helper()
	c, err := Load(Sources{File: "testdata/full.yaml", Environ: []string{"PORT=443", "LICENSE=env-license"}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestWriteYAMLRedactsAndShowsOrigins(t *testing.T) {
	c := loadFull(t)
	var out bytes.Buffer
	if err := c.WriteYAML(&out); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, secret := range secretsInFull {
		if strings.Contains(s, secret) {
			t.Errorf("WriteYAML shows the secret %q:\n%s", secret, s)
		}
	}
	for _, want := range []string{
		"  port: 443 # from env:PORT\n",
		"  license: <redacted> # from env:LICENSE\n",
		"    bearer_token: <redacted> # from yaml:testdata/full.yaml:37\n",
		"  url: https://<redacted>@octet.example.net/api # from yaml:testdata/full.yaml:42\n",
		"  tokens: # from yaml:testdata/full.yaml:58\n    - '*:production.<redacted>'\n",
		"  custom_client_headers: # from yaml:testdata/full.yaml:61\n    - 'Authorization: <redacted>'\n",
		"  redis_url: # from yaml:testdata/full.yaml:62\n    - redis://<redacted>@redis:6379/0\n",
		"  enabled: true # implied by a configured certificate\n",
		"  app_name: unleash-edge # from default\n",
		"  routes: # from yaml:testdata/full.yaml:23\n    - host: octet.example.com\n      service: relay\n",
		"  timeout: 10s # from yaml:testdata/full.yaml:50\n",
		"  spool_max_bytes: 128MiB # from yaml:testdata/full.yaml:53\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("WriteYAML lacks %q", want)
		}
	}
	// Every key carries its origin.
	if n, keys := strings.Count(s, " # "), len(Keys()); n != keys {
		t.Errorf("%d origin comments for %d keys", n, keys)
	}
}

// TestWriteYAMLRoundTrip: what WriteYAML prints (unredacted) loads back to
// the same configuration.
func TestWriteYAMLRoundTrip(t *testing.T) {
	c := loadFull(t)
	roundTrip(t, c)
}

func roundTrip(t *testing.T, c *Config) {
	t.Helper()
	var out bytes.Buffer
	if err := c.writeYAML(&out, c); err != nil {
		t.Fatal(err)
	}
	back, err := Load(Sources{File: "printed.yaml", Data: out.Bytes()})
	if err != nil {
		t.Fatalf("printed configuration does not load: %v\n%s", err, out.String())
	}
	for _, k := range Keys() {
		a, _ := c.Get(k.Name)
		b, _ := back.Get(k.Name)
		if !equalValues(a, b) {
			t.Errorf("%s = %#v, after printing and loading %#v\n%s", k.Name, a, b, out.String())
		}
	}
}

// equalValues treats nil and empty lists alike.
func equalValues(a, b any) bool {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	if va.Kind() == reflect.Slice && va.Len() == 0 && vb.Len() == 0 {
		return true
	}
	return reflect.DeepEqual(a, b)
}

func TestRedactedIsACopy(t *testing.T) {
	c := loadFull(t)
	r := c.Redacted()
	if r.Relay.License != Redacted || r.Edge.RedisPassword != Redacted || r.Metrics.Prometheus.BearerToken != Redacted {
		t.Errorf("Redacted left secrets: %+v %+v", r.Relay, r.Edge)
	}
	if c.Relay.License != "env-license" || c.Edge.Tokens[0] != "*:production.abcdef0123456789" {
		t.Errorf("Redacted changed the original: %q %q", c.Relay.License, c.Edge.Tokens)
	}
	if r.Edge.PretrustedTokens[1] != "<redacted>@production" || r.Server.CORSOrigin[0] != "https://app.example.com" {
		t.Errorf("redacted lists = %q %q", r.Edge.PretrustedTokens, r.Server.CORSOrigin)
	}
	r.Server.CORSOrigin[0] = "changed"
	if c.Server.CORSOrigin[0] != "https://app.example.com" {
		t.Error("Redacted shares list storage with the original")
	}
}

func TestLogValueRedacts(t *testing.T) {
	c := loadFull(t)
	for _, h := range []func(*bytes.Buffer) slog.Handler{
		func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
		func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
	} {
		var out bytes.Buffer
		slog.New(h(&out)).Info("configuration", "config", c)
		s := out.String()
		for _, secret := range secretsInFull {
			if strings.Contains(s, secret) {
				t.Errorf("log shows the secret %q: %s", secret, s)
			}
		}
		if !strings.Contains(s, "server.port") || !strings.Contains(s, "443 (env:PORT)") {
			t.Errorf("log lacks server.port from env:PORT: %s", s)
		}
		if strings.Contains(s, "app_name") {
			t.Errorf("log lists keys at their defaults: %s", s)
		}
	}
}

func TestRedactForms(t *testing.T) {
	tests := []struct{ how, in, want string }{
		{"true", "s3cret", Redacted},
		{"true", "", ""},
		{"url", "https://api.example.com/x", "https://api.example.com/x"},
		{"url", "redis://:pw@redis:6379/0", "redis://<redacted>@redis:6379/0"},
		{"url", "redis://user@redis", "redis://<redacted>@redis"},
		{"url", "https://h/p?token=abc&x=1", "https://h/p?token=<redacted>&x=1"},
		{"url", "::not a url", Redacted},
		{"token", "*:development.abc", "*:development.<redacted>"},
		{"token", "secret@production", "<redacted>@production"},
		{"token", "opaque", Redacted},
		{"header", "X-Api-Key: abc", "X-Api-Key: <redacted>"},
		{"header", "garbage", Redacted},
	}
	for _, tt := range tests {
		if got := redact(tt.how, tt.in); got != tt.want {
			t.Errorf("redact(%s, %q) = %q, want %q", tt.how, tt.in, got, tt.want)
		}
	}
}
