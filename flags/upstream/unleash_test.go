package upstream

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/brink-edge/brink/flags"
	"github.com/brink-edge/brink/internal/testenv"
)

// TestEdgeAgainstUnleash runs brink's Edge against a real Unleash 8: a
// flag created through the admin API is in the Store after Start, a change
// shows within two refresh intervals (plus the second Unleash takes to
// notice its own change and a second of slack for a loaded CI machine),
// tokens created in Unleash validate through the
// Validator, and the edge registers itself upstream. It skips when the
// real-server environment is not installed (fails under
// BRINK_REQUIRE_E2E=1).
func TestEdgeAgainstUnleash(t *testing.T) {
	u := testenv.SharedUnleash(t)
	const env = testenv.EnvDevelopment
	clientTok := u.CreateAPIToken(t, "client", env, []string{"*"})
	frontTok := u.CreateAPIToken(t, "frontend", env, []string{"*"})
	flag := testenv.UniqueName(t, "flag")
	u.CreateFlag(t, testenv.DefaultProject, flag)
	appName := testenv.UniqueName(t, "brink")

	const interval = 2 * time.Second
	store := new(flags.Store)
	e, err := New(Config{
		ClientConfig:            ClientConfig{URL: u.URL(), AppName: appName, Version: "test"},
		Store:                   store,
		StartupTokens:           []string{clientTok},
		FeaturesRefreshInterval: interval,
		Logger:                  testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.Start(ctx); err != nil {
		t.Fatalf("Start against Unleash: %v", err)
	}
	if tok, _ := e.Tokens().Get(clientTok); tok.Status != flags.TokenValidated || tok.Type != flags.TokenClient || tok.Environment != env {
		t.Fatalf("startup token after Start = %+v, want a validated client token of %s", tok, env)
	}
	if on, found := enabledIn(store, env, flag); !found || on {
		t.Fatalf("flag %s after the hot start: found %v, enabled %v; want it present and off (features %v)", flag, found, on, featureNames(store, env))
	}
	if !e.Ready() {
		t.Error("not ready after the hot start")
	}

	u.EnableFlag(t, testenv.DefaultProject, flag, env)
	changed := time.Now()
	eventually(t, 2*interval+2*time.Second, "the enabled flag in the Store", func() bool {
		on, _ := enabledIn(store, env, flag)
		return on
	})
	t.Logf("the change showed after %v (refresh interval %v)", time.Since(changed).Round(time.Millisecond), interval)

	tok, err := e.Validator().Validate(ctx, frontTok)
	if err != nil || tok.Status != flags.TokenValidated || tok.Type != flags.TokenFrontend || tok.Environment != env {
		t.Errorf("Validate(frontend token from Unleash) = %+v, %v; want a validated frontend token of %s", tok, err, env)
	}
	if snap := store.Environments()[env]; snap == nil || !snap.Covers(&tok) {
		t.Errorf("the frontend token is not covered by the published state")
	}
	bad := strings.Repeat("0", 40)
	if tok, err := e.Validator().Validate(ctx, "*:"+env+"."+bad); err != nil || tok.Status != flags.TokenInvalid {
		t.Errorf("Validate(made-up token) = %+v, %v; want TokenInvalid", tok, err)
	}

	// Polling with ETags: Unleash answers 304 while nothing changes.
	eventually(t, 3*interval, "a 304 check after the last refresh", func() bool {
		r := e.Refreshes()
		return len(r) == 1 && r[0].ETag != "" && r[0].LastCheck.After(r[0].LastRefreshed)
	})

	// Unleash stores registrations every 20 s.
	eventually(t, 45*time.Second, "the edge's registration in Unleash", func() bool {
		apps, ok := u.Application(t, appName)
		for _, a := range apps {
			if ok && a.SDKVersion == "brink:test" {
				return true
			}
		}
		return false
	})
}
