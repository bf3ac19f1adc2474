package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/brink-edge/brink/relay"
)

// TestRelayUsageErrors: brink relay refuses what it cannot serve, with exit
// status 2 and a message naming the cause, before listening.
func TestRelayUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"no upstream", nil, []string{"relay", "-i", "127.0.0.1", "-p", "0"}, "OCTET_URL"},
		{"loop front with an https upstream", map[string]string{"OCTET_URL": "https://127.0.0.1:1", "LICENSE": "x"},
			[]string{"relay", "--server", "loop", "-i", "127.0.0.1", "-p", "0"}, "stall the event loop"},
		{"loop front asked for by environment", map[string]string{"OCTET_URL": "https://127.0.0.1:1", "LICENSE": "x", "BRINK_SERVER": "loop"},
			[]string{"relay", "-i", "127.0.0.1", "-p", "0"}, "stall the event loop"},
		{"loop-only option with the default front", map[string]string{"OCTET_URL": "https://127.0.0.1:1", "LICENSE": "x"},
			[]string{"relay", "--reuseport", "-i", "127.0.0.1", "-p", "0"}, "stall the event loop"},
		{"partial mutual TLS", map[string]string{"OCTET_URL": "https://127.0.0.1:1", "LICENSE": "x", "OCTET_CA_FILE": "/nonexistent/ca.pem"},
			[]string{"relay", "-i", "127.0.0.1", "-p", "0"}, "EDGE_CLIENT_CERT_FILE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var out bytes.Buffer
			err := run(append([]string{"--signal-capture", "off"}, tt.args...), &out, &out)
			if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("run(%q) = %v (exit %d), want a usage error mentioning %q", tt.args, err, exitCode(err), tt.want)
			}
		})
	}
}

// TestFrontAllocatesNothing: the handler put in front of the flag API
// (/health, relay routes) adds no allocation to a request it passes on.
func TestFrontAllocatesNothing(t *testing.T) {
	e := &edgeSide{health: relay.NewHealth(relay.HealthConfig{Version: "test"})}
	defer e.health.Close()
	served := 0
	h := e.front(func(*fasthttp.RequestCtx) { served++ }, false)
	var ctx fasthttp.RequestCtx
	ctx.Request.SetRequestURI("/api/frontend?userId=1")
	allocs := testing.AllocsPerRun(1000, func() { h(&ctx) })
	if allocs != 0 {
		t.Errorf("front: %v allocations per request, want 0", allocs)
	}
	if served == 0 {
		t.Fatal("the API handler was not called")
	}
	ctx.Request.SetRequestURI("/health")
	h(&ctx)
	if !bytes.Contains(ctx.Response.Body(), []byte(`"ok":true`)) {
		t.Errorf("/health answered %q", ctx.Response.Body())
	}
}
