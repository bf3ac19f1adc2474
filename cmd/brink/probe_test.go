package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestProbes(t *testing.T) {
	ready := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/internal-backstage/health":
			w.Write([]byte(`{"status":"OK"}`))
		case "/internal-backstage/ready":
			if !ready {
				w.WriteHeader(http.StatusServiceUnavailable)
				w.Write([]byte(`{"error":"Edge is not ready to serve requests","status":"NOT_READY"}`))
				return
			}
			w.Write([]byte(`{"status":"READY"}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	var out bytes.Buffer
	if err := run([]string{"health", "--edge-url", srv.URL}, &out, &out); err != nil {
		t.Fatalf("health: %v", err)
	}
	// Global options before the command and mode options given by env.
	t.Setenv("EDGE_URL", srv.URL)
	if err := run([]string{"--log-format", "json", "ready"}, &out, &out); err == nil || exitCode(err) != 1 {
		t.Fatalf("ready while not ready = %v, want a failure with exit 1", err)
	}
	ready = true
	if err := run([]string{"ready", "-l", "json"}, &out, &out); err != nil {
		t.Fatalf("ready: %v", err)
	}
	if err := run([]string{"ready", "-e", srv.URL + "/nothing"}, &out, &out); err == nil {
		t.Fatal("ready against a 404 succeeded")
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no command", nil, "no command"},
		{"unknown command", []string{"serve"}, "unknown command"},
		{"unknown option", []string{"offline", "--nope"}, "unknown flag"},
		{"stray argument", []string{"version", "extra"}, "unexpected argument"},
		{"bad int", []string{"--port", "x", "version"}, "invalid argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(tt.args, &out, &out)
			if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("run(%q) = %v (exit %d), want a usage error mentioning %q", tt.args, err, exitCode(err), tt.want)
			}
		})
	}
}

func TestBadEnvValueIsUsageError(t *testing.T) {
	t.Setenv("PORT", "eighty")
	var out bytes.Buffer
	err := run([]string{"offline", "--demo"}, &out, &out)
	if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "PORT") {
		t.Fatalf("offline with PORT=eighty = %v, want a usage error naming PORT", err)
	}
	// Commands that serve nothing ignore the server options' variables, so a
	// platform's PORT cannot break a container probe.
	if err := run([]string{"version"}, &out, &out); err != nil {
		t.Fatalf("version with PORT=eighty = %v, want success", err)
	}
}

func TestHelp(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{"--help"}, &out, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"offline", "--port", "[env: PORT]"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help lacks %q", want)
		}
	}
	out.Reset()
	if err := run([]string{"offline", "--help"}, &out, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"--bootstrap-file", "BOOTSTRAP_FILE", "--client-tokens", "--reload-interval"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("offline help lacks %q", want)
		}
	}
}

// TestProbeLocal: `brink health --local` finds the server from the same
// settings the server reads: plain HTTP on PORT, or HTTPS on PORT when the
// Octet certificate variables are set (not verified: a local probe).
func TestProbeLocal(t *testing.T) {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/internal-backstage/health" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(`{"status":"OK"}`))
	})
	for _, tlsOn := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "tls"}[tlsOn], func(t *testing.T) {
			var srv *httptest.Server
			if tlsOn {
				srv = httptest.NewTLSServer(handler)
				t.Setenv("EDGE_TLS_CERT_FILE", "/etc/brink/cert.pem")
				t.Setenv("EDGE_TLS_KEY_FILE", "/etc/brink/key.pem")
			} else {
				srv = httptest.NewServer(handler)
			}
			defer srv.Close()
			_, port, _ := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(srv.URL, "https://"), "http://"), ":")
			t.Setenv("PORT", port)
			t.Setenv("REDIS_PORT", "tcp://10.0.0.1:6379") // a Kubernetes service variable
			var out bytes.Buffer
			if err := run([]string{"health", "--local"}, &out, &out); err != nil {
				t.Fatalf("health --local: %v", err)
			}
			scheme := map[bool]string{false: "http://", true: "https://"}[tlsOn]
			if !strings.Contains(out.String(), scheme+"127.0.0.1:"+port+"/internal-backstage/health") {
				t.Errorf("probed %q, want %s127.0.0.1:%s", out.String(), scheme, port)
			}
		})
	}
	t.Setenv("PORT", "not-a-port")
	var out bytes.Buffer
	if err := run([]string{"health", "--local"}, &out, &out); err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "PORT") {
		t.Fatalf("health --local with a bad PORT = %v, want a usage error naming PORT", err)
	}
}
