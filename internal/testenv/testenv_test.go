package testenv_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/brink-edge/brink/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// respCall writes one command as a RESP array over conn and returns the raw
// first reply line (plus the payload line for a bulk string).
func respCall(t *testing.T, conn net.Conn, rd *bufio.Reader, args ...string) string {
	t.Helper()
	cmd := fmt.Sprintf("*%d\r\n", len(args))
	for _, a := range args {
		cmd += fmt.Sprintf("$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := io.WriteString(conn, cmd); err != nil {
		t.Fatal(err)
	}
	line, err := rd.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(line, "$") && line != "$-1\r\n" {
		payload, err := rd.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		line += payload
	}
	return line
}

func TestRedis(t *testing.T) {
	r := testenv.StartRedis(t)
	if !strings.HasPrefix(r.Addr, "127.0.0.1:") {
		t.Fatalf("Addr = %q, want 127.0.0.1:port", r.Addr)
	}

	conn, err := net.DialTimeout("tcp", r.Addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	rd := bufio.NewReader(conn)
	if got := respCall(t, conn, rd, "SET", "unleash-tokens", `[{"token":"x"}]`); got != "+OK\r\n" {
		t.Fatalf("SET answered %q", got)
	}
	if got := respCall(t, conn, rd, "GET", "unleash-tokens"); got != "$15\r\n[{\"token\":\"x\"}]\r\n" {
		t.Fatalf("GET answered %q", got)
	}
	conn.Close()

	// The helper's own client agrees.
	if v, err := r.Do("GET", "unleash-tokens"); err != nil || v != `[{"token":"x"}]` {
		t.Fatalf("Do GET = %v, %v", v, err)
	}
	if v, err := r.Do("GET", "missing"); err != nil || v != nil {
		t.Fatalf("Do GET missing = %v, %v; want nil, nil", v, err)
	}
	if _, err := r.Do("NOSUCHCOMMAND"); err == nil {
		t.Fatal("Do NOSUCHCOMMAND: no error")
	}

	// Down mid-test: connections are refused; back up, empty (no persistence).
	r.Stop(t)
	if r.Running() {
		t.Fatal("Running after Stop")
	}
	if c, err := net.DialTimeout("tcp", r.Addr, time.Second); err == nil {
		c.Close()
		t.Fatal("dial succeeded after Stop")
	}
	r.Start(t)
	if v, err := r.Do("GET", "unleash-tokens"); err != nil || v != nil {
		t.Fatalf("after restart GET = %v, %v; want an empty Redis", v, err)
	}
	r.Kill(t)
	if _, err := r.Do("PING"); err == nil {
		t.Fatal("PING answered after Kill")
	}
	r.Start(t)
	if v, err := r.Do("PING"); err != nil || v != "PONG" {
		t.Fatalf("PING after Kill+Start = %v, %v", v, err)
	}
}

func TestPostgres(t *testing.T) {
	pg := testenv.StartPostgres(t)
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("%s:%d", pg.Host, pg.Port), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	if want := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/unleash?sslmode=disable", pg.Port); pg.DSN() != want {
		t.Fatalf("DSN = %q, want %q", pg.DSN(), want)
	}
}

// clientFeatures is the part of /api/client/features the test looks at.
type clientFeatures struct {
	Features []struct {
		Name       string `json:"name"`
		Enabled    bool   `json:"enabled"`
		Project    string `json:"project"`
		Strategies []struct {
			Name       string            `json:"name"`
			Parameters map[string]string `json:"parameters"`
			Segments   []int             `json:"segments"`
		} `json:"strategies"`
	} `json:"features"`
	Segments []struct {
		ID int `json:"id"`
	} `json:"segments"`
}

// waitFlag polls the client API until the flag is there with enabled == want.
func waitFlag(t *testing.T, u *testenv.Unleash, token, flag string, want bool) clientFeatures {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var cf clientFeatures
		b := u.ClientFeatures(t, token)
		if err := json.Unmarshal(b, &cf); err != nil {
			t.Fatalf("client features: %v: %s", err, b)
		}
		for _, f := range cf.Features {
			if f.Name == flag && f.Enabled == want {
				return cf
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("flag %q with enabled=%v not in /api/client/features after 10s: %s", flag, want, b)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestUnleash(t *testing.T) {
	u := testenv.SharedUnleash(t)
	if !strings.HasPrefix(u.URL(), "http://127.0.0.1:") || !strings.HasPrefix(u.AdminToken(), "*:*.") {
		t.Fatalf("URL %q, admin token %q", u.URL(), u.AdminToken())
	}
	if status, b := u.Admin(t, http.MethodGet, "/api/admin/environments", nil); status != http.StatusOK ||
		!strings.Contains(string(b), `"development"`) {
		t.Fatalf("admin token: GET /api/admin/environments: %d %s", status, b)
	}
	if status, _ := u.Request(t, http.MethodGet, "/api/admin/environments", "*:*.wrong", nil); status != http.StatusUnauthorized {
		t.Fatalf("a wrong admin token got %d, want 401", status)
	}

	const env, project = testenv.EnvDevelopment, testenv.DefaultProject
	client := u.CreateAPIToken(t, "client", env, []string{"*"})
	if !strings.HasPrefix(client, "*:development.") {
		t.Fatalf("client token %q", client)
	}

	// Registrations show up in Unleash only every 20 s: post one now, look
	// for it at the end.
	app := testenv.UniqueName(t, "app")
	status, b := u.Request(t, http.MethodPost, "/api/client/register", client, map[string]any{
		"appName": app, "instanceId": "testenv-1", "sdkVersion": "brink:test", "strategies": []string{"default"},
		"started": time.Now().UTC().Format(time.RFC3339), "interval": 15000,
	})
	if status != http.StatusAccepted {
		t.Fatalf("POST /api/client/register: %d %s", status, b)
	}
	registered := time.Now()
	flag := testenv.UniqueName(t, "flag")
	seg := u.CreateSegment(t, testenv.UniqueName(t, "seg"),
		`[{"contextName":"userId","operator":"IN","values":["u1","u2"]}]`)
	u.CreateFlag(t, project, flag)
	id := u.AddStrategy(t, project, flag, env, map[string]any{
		"name":        "flexibleRollout",
		"parameters":  map[string]string{"rollout": "100", "stickiness": "default", "groupId": flag},
		"constraints": []any{},
		"segments":    []int{seg},
	})
	if id == "" {
		t.Fatal("AddStrategy returned no id")
	}
	u.EnableFlag(t, project, flag, env)

	// With Unleash-Client-Spec: 6.1.0 the segment comes once, by id.
	cf := waitFlag(t, u, client, flag, true)
	found := false
	for _, f := range cf.Features {
		if f.Name == flag {
			if len(f.Strategies) != 1 || f.Strategies[0].Name != "flexibleRollout" ||
				f.Strategies[0].Parameters["rollout"] != "100" || len(f.Strategies[0].Segments) != 1 ||
				f.Strategies[0].Segments[0] != seg {
				t.Fatalf("flag %q strategies = %+v", flag, f.Strategies)
			}
		}
	}
	for _, s := range cf.Segments {
		found = found || s.ID == seg
	}
	if !found {
		t.Fatalf("segment %d not in the top-level segments %+v", seg, cf.Segments)
	}

	// /edge/validate: the client token is valid (Unleash 8 says "client"),
	// a made-up one is left out.
	got := u.ValidateTokens(t, client, "*:development.not-a-real-secret")
	if len(got) != 1 || got[0].Token != client || got[0].Type != "client" || got[0].Environment != env ||
		len(got[0].Projects) != 1 || got[0].Projects[0] != "*" {
		t.Fatalf("/edge/validate = %+v", got)
	}

	// A frontend token made through the admin API works on Unleash's own
	// frontend API, and the flag shows there (refreshed every second).
	frontend := u.CreateAPIToken(t, "frontend", env, []string{project})
	if v := u.ValidateTokens(t, frontend); len(v) != 1 || v[0].Type != "frontend" {
		t.Fatalf("/edge/validate frontend = %+v", v)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		status, b := u.Request(t, http.MethodGet, "/api/frontend?userId=u1", frontend, nil)
		if status == http.StatusOK && strings.Contains(string(b), `"name":"`+flag+`"`) {
			break
		}
		if status != http.StatusOK || time.Now().After(deadline) {
			t.Fatalf("GET /api/frontend: %d %s", status, b)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if status, _ := u.Request(t, http.MethodGet, "/api/frontend", client, nil); status != http.StatusForbidden {
		t.Fatalf("a client token on /api/frontend got %d, want 403", status)
	}

	// Metrics posted with the client token arrive (Unleash stores them every 5 s).
	metricsApp := testenv.UniqueName(t, "metrics-app") // metrics register their app too
	now := time.Now().UTC().Format(time.RFC3339)
	status, b = u.Request(t, http.MethodPost, "/api/client/metrics", client, map[string]any{
		"appName":    metricsApp,
		"instanceId": "testenv",
		"bucket": map[string]any{
			"start":   now,
			"stop":    now,
			"toggles": map[string]any{flag: map[string]any{"yes": 3, "no": 2, "variants": map[string]int{}}},
		},
	})
	if status != http.StatusAccepted {
		t.Fatalf("POST /api/client/metrics: %d %s", status, b)
	}
	// And the bulk endpoint Edge uses.
	status, b = u.Request(t, http.MethodPost, "/api/client/metrics/bulk", client, map[string]any{
		"applications": []any{},
		"metrics": []any{map[string]any{
			"featureName": flag, "appName": metricsApp, "environment": env, "timestamp": now,
			"yes": 10, "no": 1, "variants": map[string]int{},
		}},
	})
	if status != http.StatusAccepted {
		t.Fatalf("POST /api/client/metrics/bulk: %d %s", status, b)
	}
	began := time.Now()
	m := u.WaitMetrics(t, flag, 20*time.Second, func(m []testenv.MetricsBucket) bool {
		yes, no := testenv.MetricsTotal(m, metricsApp)
		return yes == 13 && no == 3
	})
	t.Logf("metrics visible after %v: %+v", time.Since(began).Round(100*time.Millisecond), m)
	for _, b := range m {
		if b.Environment != env || b.FeatureName != flag || b.AppName != metricsApp {
			t.Fatalf("metrics bucket %+v", b)
		}
	}

	for {
		inst, ok := u.Application(t, app)
		// Unleash stores the application before its instances (both in
		// batches): an application without instances is not there yet.
		if ok && len(inst) > 0 {
			if len(inst) != 1 || inst[0].InstanceID != "testenv-1" || inst[0].Environment != env {
				t.Fatalf("application %q instances %+v", app, inst)
			}
			t.Logf("registration visible after %v", time.Since(registered).Round(100*time.Millisecond))
			break
		}
		if time.Since(registered) > 30*time.Second {
			t.Fatalf("application %q not registered after 30s", app)
		}
		time.Sleep(500 * time.Millisecond)
	}

	u.DisableFlag(t, project, flag, env)
	waitFlag(t, u, client, flag, false)
	u.ArchiveFlag(t, project, flag)
	deadline = time.Now().Add(10 * time.Second)
	for strings.Contains(string(u.ClientFeatures(t, client)), `"name":"`+flag+`"`) {
		if time.Now().After(deadline) {
			t.Fatalf("archived flag %q still served after 10s", flag)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestUnleashRestart stops the upstream mid-test and brings it back with its
// flags and tokens.
func TestUnleashRestart(t *testing.T) {
	u := testenv.SharedUnleash(t)
	client := u.CreateAPIToken(t, "backend", testenv.EnvProduction, []string{testenv.DefaultProject})
	flag := testenv.UniqueName(t, "flag")
	u.CreateFlag(t, testenv.DefaultProject, flag)
	u.AddStrategy(t, testenv.DefaultProject, flag, testenv.EnvProduction, `{"name":"default"}`)
	u.EnableFlag(t, testenv.DefaultProject, flag, testenv.EnvProduction)
	waitFlag(t, u, client, flag, true)

	u.Stop(t)
	if u.Running() {
		t.Fatal("Running after Stop")
	}
	if _, err := http.Get(u.URL() + "/health"); err == nil {
		t.Fatal("/health answered after Stop")
	}
	u.Start(t)
	t.Logf("restart ready in %v", u.StartupTime().Round(time.Millisecond))
	waitFlag(t, u, client, flag, true)

	u.Kill(t)
	u.Start(t)
	if v := u.ValidateTokens(t, client); len(v) != 1 || v[0].Environment != testenv.EnvProduction {
		t.Fatalf("after Kill+Start /edge/validate = %+v", v)
	}
}

// TestMissingSkips: without the installed parts the helpers skip the test
// (and fail it under BRINK_REQUIRE_E2E=1, which is not tried here).
func TestMissingSkips(t *testing.T) {
	reached := false
	t.Run("unleash", func(t *testing.T) {
		t.Setenv(testenv.RequireEnv, "")
		t.Setenv("BRINK_CACHE_DIR", t.TempDir())
		testenv.StartUnleash(t)
		reached = true
	})
	if reached {
		t.Fatal("StartUnleash went on without Node 22 and unleash-server")
	}
}
