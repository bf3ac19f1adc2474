package relay

import (
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/valyala/fasthttp"
)

type healthDoc struct {
	OK            bool   `json:"ok"`
	Version       string `json:"version"`
	UptimeSeconds *int64 `json:"uptimeSeconds"`
	Capture       string `json:"capture"`
	Upstream      *struct {
		URL       string `json:"url"`
		Reachable bool   `json:"reachable"`
		LastError string `json:"lastError"`
		CheckedAt string `json:"checkedAt"`
	} `json:"upstream"`
	Spool *struct {
		Files *int64 `json:"files"`
		Bytes *int64 `json:"bytes"`
	} `json:"spool"`
}

func getHealth(t *testing.T, addr string) healthDoc {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+addr+DefaultHealthPath, nil)
	resp, body := do(t, httpClient(false, nil), req)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d type %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	var d healthDoc
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("health %s: %v", body, err)
	}
	if d.UptimeSeconds == nil || d.Spool == nil || d.Spool.Files == nil || d.Spool.Bytes == nil {
		t.Fatalf("health %s lacks a field", body)
	}
	return d
}

func TestHealth(t *testing.T) {
	rec := newRecorder(t, false)
	mod := func(c *Config) { c.ProbeInterval = 50 * time.Millisecond; c.SpoolDir = t.TempDir() }
	r := newTestRelay(t, rec, mod)
	c := newTestConnector(t, rec, mod)
	defer func() { _ = closeConnector(t, c, time.Second) }()
	h := NewHealth(HealthConfig{Version: "1.2.3\"x", Capture: func() string { return "fallback" }, Relay: r, Connector: c})
	defer h.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: h.Handle}
	go func() { _ = srv.Serve(ln) }()
	defer func() { _ = srv.Shutdown() }()

	waitFor(t, func() bool { d := getHealth(t, ln.Addr().String()); return d.Upstream != nil && d.Upstream.Reachable })
	d := getHealth(t, ln.Addr().String())
	if !d.OK || d.Version != "1.2.3\"x" || d.Capture != "fallback" || d.Upstream.URL != rec.url() || d.Upstream.CheckedAt == "" {
		t.Fatalf("health %+v", d)
	}

	rec.stop()
	addRecords(c, 0, 10, 0)
	waitFor(t, func() bool {
		d := getHealth(t, ln.Addr().String())
		return !d.Upstream.Reachable && d.Upstream.LastError != "" && *d.Spool.Files > 0
	})
	if d := getHealth(t, ln.Addr().String()); !d.OK || *d.Spool.Bytes == 0 {
		t.Fatalf("health while the upstream is down: %+v", d)
	}
	rec.restart()
	waitFor(t, func() bool { d := getHealth(t, ln.Addr().String()); return d.Upstream.Reachable && *d.Spool.Files == 0 })

	req, _ := http.NewRequest("POST", "http://"+ln.Addr().String()+DefaultHealthPath, nil)
	if resp, _ := do(t, httpClient(false, nil), req); resp.StatusCode != 405 {
		t.Errorf("POST /health: status %d", resp.StatusCode)
	}
}

func TestHealthNoUpstream(t *testing.T) {
	h := NewHealth(HealthConfig{Version: "v"})
	defer h.Close()
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod("GET")
	h.Handle(&ctx)
	var m map[string]any
	if err := json.Unmarshal(ctx.Response.Body(), &m); err != nil {
		t.Fatal(err)
	}
	if m["ok"] != true || m["upstream"] != nil || m["capture"] != "off" {
		t.Fatalf("health %s", ctx.Response.Body())
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"", "plain", "q\"b\\s", "ctl\x00\x1f\x7f", "ünï", "bad\xff\xfe", "\u2028"} {
		got := appendJSONString(nil, s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Errorf("appendJSONString(%q) = %s: %v", s, got, err)
			continue
		}
		if utf8.ValidString(s) && back != s {
			t.Errorf("appendJSONString(%q) decodes to %q", s, back)
		}
		if !utf8.ValidString(s) && back != strings.ReplaceAll(strings.ToValidUTF8(s, "\x00"), "\x00", "\uFFFD\uFFFD") {
			t.Errorf("appendJSONString(%q) decodes to %q: each invalid byte should become U+FFFD", s, back)
		}
	}
}
