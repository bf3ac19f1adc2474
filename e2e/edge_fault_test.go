package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/brink-edge/brink/internal/testenv"
)

// TestEdgeFaults runs `brink edge` through the failures of its
// surroundings, against a private Unleash 8 (it is stopped and killed):
//
//   - Redis down at start: brink warns, starts from upstream and becomes
//     ready; it persists to Redis once Redis is back;
//   - upstream killed mid-run: brink keeps serving the same answers to
//     known tokens (401 to a token it cannot validate), accepts SDK
//     metrics meanwhile and delivers them once Unleash is back, then
//     follows changes again;
//   - restart with Unleash down: a brink that persisted to a backup folder,
//     and two brinks sharing one Redis, persist on SIGTERM, then start
//     without their upstream, become ready and serve what they saved, to
//     the client and the frontend token alike.
func TestEdgeFaults(t *testing.T) {
	u := testenv.StartUnleash(t)
	client := u.CreateAPIToken(t, "client", edgeEnv, []string{"*"})
	fe := u.CreateAPIToken(t, "frontend", edgeEnv, []string{testenv.DefaultProject})
	flags := seedFlags(t, u, "fault")
	waitUnleashServes(t, u, client, flags["segment"], true)
	common := []string{"-t", client, "-f", "1", "-m", "1"}
	feCtx := url.Values{"userId": {"u1"}, "sessionId": {"s1"}}

	t.Run("redis-down-at-start", func(t *testing.T) {
		r := testenv.StartRedis(t)
		r.Stop(t)
		e := startEdge(t, "redis-down", u.URL(), append(common, "--redis-url", "redis://"+r.Addr)...)
		waitSameFeatures(t, u, e, client, 5*time.Second)
		log := e.log.String()
		warned := false
		for _, line := range strings.Split(log, "\n") {
			if strings.Contains(line, "level=WARN") && strings.Contains(line, r.Addr) {
				warned = true
				t.Logf("brink warned: %s", line)
			}
		}
		if !warned {
			t.Errorf("brink started with Redis %s down but logged no warning naming it:\n%s", r.Addr, log)
		}
		// Redis back: the state is persisted there on shutdown.
		r.Start(t)
		e.stop(t)
		for _, key := range []string{"unleash-features", "unleash-tokens"} {
			v, err := r.Do("GET", key)
			if err != nil || v == nil {
				t.Errorf("after SIGTERM with Redis back: GET %s = %v, %v; want the persisted state", key, v, err)
			}
		}
	})

	t.Run("upstream-killed", func(t *testing.T) {
		e := startEdge(t, "outage", u.URL(), common...)
		want := waitSameFeatures(t, u, e, client, 5*time.Second)
		wantFE, status, body := e.frontend(t, fe, feCtx)
		if status != http.StatusOK {
			t.Fatalf("GET /api/frontend: %d %s", status, body)
		}
		app := testenv.UniqueName(t, "outage-app")
		e.register(t, client, app, "outage-sdk")

		u.Kill(t)
		killed := time.Now()
		// Several refresh intervals without upstream: same answers.
		for time.Since(killed) < 4*time.Second {
			if d := diffFeatureSets(want, e.clientFeatures(t, client)); len(d) > 0 {
				reportDiffs(t, "brink /api/client/features with Unleash down vs before", d)
				t.FailNow()
			}
			got, status, body := e.frontend(t, fe, feCtx)
			if status != http.StatusOK {
				t.Fatalf("GET /api/frontend with Unleash down: %d %s, want 200", status, body)
			}
			if d := diffToggleSets(wantFE, got); d != "" {
				t.Fatalf("brink /api/frontend with Unleash down differs from before: %s", d)
			}
			if status, b := e.get(t, "/internal-backstage/ready", ""); status != http.StatusOK {
				t.Fatalf("/internal-backstage/ready with Unleash down: %d %s", status, b)
			}
			time.Sleep(200 * time.Millisecond)
		}
		// A token brink never saw cannot be validated now: 401, as Edge.
		unseen := "*:" + edgeEnv + ".00000000000000000000000000000000000000000000000000outage"
		if status, b := e.get(t, "/api/client/features", unseen); status != http.StatusUnauthorized {
			t.Errorf("a never-seen token with Unleash down: %d %s, want 401", status, b)
		}
		// Metrics accepted meanwhile are kept for later.
		e.postMetrics(t, client, app, "outage-sdk", map[string][2]int{flags["on"]: {5, 1}})
		time.Sleep(2 * time.Second) // a few metrics intervals fail

		u.Start(t)
		t.Logf("Unleash back after %v", time.Since(killed).Round(100*time.Millisecond))
		waitUnleashMetrics(t, u, flags["on"], app, 5, 1, 40*time.Second)

		// And brink follows upstream changes again (its polling may have
		// backed off to 11 intervals while Unleash was down).
		u.DisableFlag(t, testenv.DefaultProject, flags["toggled"], edgeEnv)
		took := eventually(t, 11*time.Second+4*time.Second, "brink serving "+flags["toggled"]+" disabled after the outage", func() bool {
			f, ok := e.clientFeatures(t, client).Features[flags["toggled"]]
			return ok && !f.Enabled
		})
		t.Logf("change after the outage served %v after the admin call", took.Round(10*time.Millisecond))
	})

	t.Run("restart-from-persistence-with-unleash-down", func(t *testing.T) {
		dir := t.TempDir()
		r := testenv.StartRedis(t)
		redisURL := "redis://" + r.Addr
		edges := []*edgeProc{
			startEdge(t, "backup-folder", u.URL(), append(common, "-b", dir)...),
			startEdge(t, "redis-1", u.URL(), append(common, "--redis-url", redisURL)...),
			startEdge(t, "redis-2", u.URL(), append(common, "--redis-url", redisURL)...),
		}
		var want featureSet
		for _, e := range edges {
			want = waitSameFeatures(t, u, e, client, 5*time.Second)
		}
		wantFE, status, body := edges[0].frontend(t, fe, feCtx)
		if status != http.StatusOK {
			t.Fatalf("GET /api/frontend: %d %s", status, body)
		}
		for _, e := range edges[1:] { // every brink validates the frontend token
			if _, status, body := e.frontend(t, fe, feCtx); status != http.StatusOK {
				t.Fatalf("brink %s: GET /api/frontend: %d %s", e.name, status, body)
			}
		}
		for _, e := range edges {
			e.stop(t) // SIGTERM: persist
		}

		// What was persisted.
		for _, f := range []string{"unleash_features.json", "unleash_tokens.json"} {
			b, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil {
				t.Fatalf("backup folder after SIGTERM: %v", err)
			}
			checkPersisted(t, "file "+f, b, flags["segment"], client)
		}
		for _, key := range []string{"unleash-features", "unleash-tokens"} {
			v, err := r.Do("GET", key)
			s, _ := v.(string)
			if err != nil || s == "" {
				t.Fatalf("Redis GET %s after SIGTERM = %v, %v; want the persisted state", key, v, err)
			}
			checkPersisted(t, "Redis "+key, []byte(s), flags["segment"], client)
		}

		u.Stop(t)
		for _, e := range edges {
			e.start(t) // waits for ready
			t.Logf("brink %s restarted with Unleash down: ready trace %s", e.name, compactTrace(e.readyTrace))
		}
		for _, e := range edges {
			if d := diffFeatureSets(want, e.clientFeatures(t, client)); len(d) > 0 {
				reportDiffs(t, "brink "+e.name+" restarted with Unleash down: /api/client/features vs before", d)
			}
			got, status, body := e.frontend(t, fe, feCtx)
			if status != http.StatusOK {
				t.Errorf("brink %s restarted with Unleash down: GET /api/frontend with the persisted frontend token: %d %s, want 200", e.name, status, body)
			} else if d := diffToggleSets(wantFE, got); d != "" {
				t.Errorf("brink %s restarted with Unleash down: /api/frontend differs from before: %s", e.name, d)
			}
		}
	})
}

// checkPersisted checks that a persisted document is JSON holding the
// flag (features) or the token (tokens), depending on what it is.
func checkPersisted(t *testing.T, what string, b []byte, flag, token string) {
	t.Helper()
	if !json.Valid(b) {
		t.Errorf("%s is not JSON: %.200s", what, b)
		return
	}
	switch {
	case strings.Contains(what, "features"):
		if !strings.Contains(string(b), `"`+flag+`"`) {
			t.Errorf("%s does not hold flag %s: %.300s", what, flag, b)
		}
	case strings.Contains(what, "tokens"):
		if !strings.Contains(string(b), `"`+token+`"`) {
			t.Errorf("%s does not hold the startup token: %.300s", what, b)
		}
	}
}

// diffToggleSets compares two frontend answers (enabled toggles by name):
// "" when they agree.
func diffToggleSets(want, got map[string]toggle) string {
	var d []string
	for n, w := range want {
		g, ok := got[n]
		switch {
		case !ok:
			d = append(d, n+" missing")
		case diffAnswer(answer{Enabled: g.Enabled, Variant: g.Variant}, w) != "":
			d = append(d, n+": "+diffAnswer(answer{Enabled: g.Enabled, Variant: g.Variant}, w))
		}
	}
	for n := range got {
		if _, ok := want[n]; !ok {
			d = append(d, n+" not there before")
		}
	}
	return strings.Join(d, "; ")
}
