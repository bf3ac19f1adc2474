package e2e

import (
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/brink-edge/brink/internal/testenv"
)

// TestEdgeDaisyChain chains Unleash ← brink A ← brink B (B's upstream is
// A): B hot-starts through A and serves Unleash's flags, follows a change
// made in Unleash, validates a frontend token created in Unleash after
// both started (B asks A, A asks Unleash), and metrics posted to B reach
// Unleash through A.
func TestEdgeDaisyChain(t *testing.T) {
	u := testenv.SharedUnleash(t)
	client := u.CreateAPIToken(t, "client", edgeEnv, []string{"*"})
	flags := seedFlags(t, u, "chain")
	created := time.Now()
	waitUnleashServes(t, u, client, flags["segment"], true)

	const refresh = time.Second
	a := startEdge(t, "A", u.URL(), "-t", client, "-f", "1", "-m", "1")
	rec := newUpstreamRecorder(t, a.url) // B → A traffic
	b := startEdge(t, "B", rec.srv.URL, "-t", client, "-f", "1", "-m", "1")
	app := testenv.UniqueName(t, "chain-app")
	b.register(t, client, app, "chain-b-sdk")

	t.Run("B-serves-unleash-flags", func(t *testing.T) {
		got := waitSameFeatures(t, u, b, client, 5*time.Second)
		for _, role := range []string{"on", "toggled", "off", "rollout", "segment"} {
			if _, ok := got.Features[flags[role]]; !ok {
				t.Errorf("brink B does not serve %s", flags[role])
			}
		}
		if rec.validations(client) == 0 {
			t.Errorf("B did not validate its startup token at A's /edge/validate; B→A calls %+v", rec.calls())
		}
	})

	t.Run("change-reaches-B", func(t *testing.T) {
		flag := flags["toggled"]
		u.DisableFlag(t, testenv.DefaultProject, flag, edgeEnv)
		// Two refresh intervals per hop, the second Unleash takes to see
		// its own change, and a second of slack.
		took := eventually(t, 2*2*refresh+2*time.Second, "brink B serving "+flag+" disabled", func() bool {
			f, ok := b.clientFeatures(t, client).Features[flag]
			return ok && !f.Enabled
		})
		t.Logf("disabled flag served by B %v after the admin call", took.Round(10*time.Millisecond))
	})

	t.Run("frontend-token-validated-through-the-chain", func(t *testing.T) {
		fe := u.CreateAPIToken(t, "frontend", edgeEnv, []string{testenv.DefaultProject})
		m, status, body := b.frontend(t, fe, url.Values{"userId": {"u1"}})
		if status != http.StatusOK {
			t.Fatalf("B: GET /api/frontend with a frontend token created in Unleash after the chain started: %d %s, want 200", status, body)
		}
		for _, role := range []string{"on", "segment"} {
			if tg, ok := m[flags[role]]; !ok || !tg.Enabled {
				t.Errorf("B /api/frontend for userId u1: %s not enabled: %s", flags[role], body)
			}
		}
		if _, ok := m[flags["toggled"]]; ok {
			t.Errorf("B /api/frontend serves %s, disabled in Unleash: %s", flags["toggled"], body)
		}
		if n := rec.validations(fe); n != 1 {
			t.Errorf("B asked A's /edge/validate about the new frontend token %d times, want 1; B→A calls %+v", n, rec.calls())
		}
		// A learnt the token from Unleash on B's behalf.
		found := false
		for _, v := range a.tokens(t).TokenValidationStatus {
			found = found || (v.Type == "frontend" && v.Environment == edgeEnv)
		}
		if !found {
			t.Errorf("A's /internal-backstage/tokens has no validated frontend token: %+v", a.tokens(t))
		}
		// A made-up token is refused all the way.
		bogus := "*:" + edgeEnv + ".00000000000000000000000000000000000000000000000000chainbogus"
		if _, status, body := b.frontend(t, bogus, url.Values{"userId": {"u1"}}); status != http.StatusForbidden {
			t.Errorf("B: GET /api/frontend with a made-up token: %d %s, want 403", status, body)
		}
	})

	t.Run("metrics-from-B-reach-unleash", func(t *testing.T) {
		waitFlagsKnownToMetrics(t, created)
		b.postMetrics(t, client, app, "chain-b-sdk", map[string][2]int{flags["on"]: {11, 4}})
		waitUnleashMetrics(t, u, flags["on"], app, 11, 4, 30*time.Second)
		if !slices.ContainsFunc(rec.calls(), func(c upstreamCall) bool {
			return c.Method == http.MethodPost && c.Path == "/api/client/metrics/bulk" && c.Status == http.StatusAccepted
		}) {
			t.Errorf("B never posted /api/client/metrics/bulk to A (202); B→A calls %+v", rec.calls())
		}
	})
}
