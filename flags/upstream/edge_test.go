package upstream

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/brink-edge/brink/flags"
)

func TestNewChecksConfig(t *testing.T) {
	if _, err := New(Config{ClientConfig: ClientConfig{URL: "http://127.0.0.1:1"}}); !errors.Is(err, ErrNoStore) {
		t.Errorf("New without a Store = %v, want ErrNoStore", err)
	}
	if _, err := New(Config{Store: new(flags.Store)}); !errors.Is(err, ErrNoURL) {
		t.Errorf("New without a URL = %v, want ErrNoURL", err)
	}
	_, err := New(Config{Store: new(flags.Store), ClientConfig: ClientConfig{URL: "http://127.0.0.1:1"}, StartupTokens: []string{"secret-without-format"}})
	if !errors.Is(err, flags.ErrTokenFormat) || strings.Contains(err.Error(), "secret-without-format") {
		t.Errorf("New with a malformed startup token = %v, want ErrTokenFormat without the secret", err)
	}
}

func TestEdgeHotStart(t *testing.T) {
	f := newFakeUnleash(t)
	f.addToken(tokDev, flags.TokenClient)
	f.addToken(tokProd, flags.TokenClient)
	f.addToken(tokFront, flags.TokenFrontend)
	f.setFeature("development", feature("a", "default", true))
	f.setFeature("production", feature("p", "default", true))
	e := newTestEdge(t, f, func(c *Config) {
		c.StartupTokens = []string{tokDev, " " + tokProd + " ", tokFront, ""}
		c.FeaturesRefreshInterval = time.Hour
		c.DisableStreaming = true
	})
	if e.Ready() != true {
		t.Error("an Edge that knows no token is not ready")
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Features are there when Start returns.
	if got := featureNames(e.store, "development"); !slices.Equal(got, []string{"a"}) {
		t.Errorf("development features after Start = %v, want [a]", got)
	}
	if got := featureNames(e.store, "production"); !slices.Equal(got, []string{"p"}) {
		t.Errorf("production features after Start = %v, want [p]", got)
	}
	if !e.Ready() {
		t.Error("not ready after a hot start")
	}
	for _, raw := range []string{tokDev, tokProd, tokFront} {
		if tok, _ := e.Tokens().Get(raw); tok.Status != flags.TokenValidated {
			t.Errorf("startup token %s is %v, want validated", tok.Anonymised(), tok.Status)
		}
	}
	if n := validateCalls(f); n != 1 {
		t.Errorf("startup tokens were validated in %d requests, want one batch", n)
	}
	eventually(t, 3*time.Second, "registrations for both client tokens", func() bool {
		n := 0
		f.get(func(f *fakeUnleash) { n = len(f.registrations) })
		return n == 2
	})
	if err := e.Start(context.Background()); !errors.Is(err, ErrStarted) {
		t.Errorf("second Start = %v, want ErrStarted", err)
	}
	if tok, ok := e.TokenFor("production"); !ok || tok != tokProd {
		t.Errorf("TokenFor(production) = %q, %v", tok, ok)
	}
	if _, ok := e.TokenFor("staging"); ok {
		t.Error("TokenFor(staging) found a token")
	}
}

func TestEdgeStartWithoutValidTokens(t *testing.T) {
	t.Run("rejected upstream", func(t *testing.T) {
		f := newFakeUnleash(t)
		e := newTestEdge(t, f, func(c *Config) { c.StartupTokens = []string{tokBad} })
		if err := e.Start(context.Background()); !errors.Is(err, ErrNoValidTokens) {
			t.Errorf("Start = %v, want ErrNoValidTokens", err)
		}
	})
	t.Run("upstream down, nothing persisted", func(t *testing.T) {
		f := newFakeUnleash(t)
		f.addToken(tokDev, flags.TokenClient)
		f.set(func(f *fakeUnleash) { f.down = true })
		e := newTestEdge(t, f, func(c *Config) { c.StartupTokens = []string{tokDev}; c.Persister = &memPersister{} })
		if err := e.Start(context.Background()); !errors.Is(err, ErrNoValidTokens) {
			t.Errorf("Start = %v, want ErrNoValidTokens", err)
		}
	})
	t.Run("dynamic mode without startup tokens", func(t *testing.T) {
		f := newFakeUnleash(t)
		f.set(func(f *fakeUnleash) { f.down = true })
		e := newTestEdge(t, f, nil)
		if err := e.Start(context.Background()); err != nil {
			t.Errorf("Start without startup tokens = %v, want nil", err)
		}
	})
}

func persistedDev(t *testing.T) *flags.PersistedState {
	return &flags.PersistedState{
		Tokens: []flags.Token{mustToken(t, tokDev, flags.TokenClient), mustToken(t, tokFront, flags.TokenFrontend)},
		Features: map[string]*flags.ClientFeatures{
			"development": {Version: 2, Features: []flags.Feature{feature("saved", "default", true)}},
		},
	}
}

// TestEdgeRestoresWhenUpstreamDown: with the upstream down, Start hydrates
// tokens and features from the persister, is ready, keeps retrying the
// startup tokens, and catches up when the upstream returns; it does not
// overwrite the backup before it synced.
func TestEdgeRestoresWhenUpstreamDown(t *testing.T) {
	f := newFakeUnleash(t)
	f.addToken(tokDev, flags.TokenClient)
	f.setFeature("development", feature("fresh", "default", true))
	f.set(func(f *fakeUnleash) { f.down = true })
	p := &memPersister{state: persistedDev(t)}
	e := newTestEdge(t, f, func(c *Config) {
		c.StartupTokens = []string{tokDev}
		c.Persister = p
		c.PersistInterval = 30 * time.Millisecond
		c.DisableStreaming = true
	})
	if err := e.Start(context.Background()); err != nil {
		t.Fatalf("Start with the upstream down and a backup = %v", err)
	}
	if got := featureNames(e.store, "development"); !slices.Equal(got, []string{"saved"}) {
		t.Fatalf("features after the restore = %v, want [saved]", got)
	}
	front := mustToken(t, tokFront, flags.TokenFrontend)
	if snap := e.store.Environments()["development"]; !snap.Covers(&front) {
		t.Errorf("restored snapshot (projects %v) does not cover the restored tokens", snap.Projects)
	}
	if tok, _ := e.Tokens().Get(tokFront); tok.Status != flags.TokenValidated {
		t.Errorf("restored frontend token is %v", tok.Status)
	}
	if !e.Ready() {
		t.Error("not ready after a restore")
	}
	time.Sleep(100 * time.Millisecond)
	if _, saves := p.saved(); saves != 0 {
		t.Errorf("the backup was saved %d times before the upstream delivered anything", saves)
	}
	f.set(func(f *fakeUnleash) { f.down = false })
	eventually(t, 5*time.Second, "the upstream's features to replace the restored ones", func() bool {
		return slices.Equal(featureNames(e.store, "development"), []string{"fresh"})
	})
	// The restored frontend token is revalidated once the upstream is back:
	// the upstream does not know it.
	eventually(t, 3*time.Second, "the restored frontend token to be revalidated", func() bool {
		tok, _ := e.Tokens().Get(tokFront)
		return tok.Status == flags.TokenInvalid
	})
	eventually(t, 3*time.Second, "a periodic save", func() bool { _, n := p.saved(); return n > 0 })
}

func TestEdgeUsesBackupForEnvironmentsItCannotFetch(t *testing.T) {
	f := newFakeUnleash(t)
	f.addToken(tokDev, flags.TokenClient)
	f.set(func(f *fakeUnleash) { f.status["/api/client/features"] = 503 })
	p := &memPersister{state: persistedDev(t)}
	e := newTestEdge(t, f, func(c *Config) { c.StartupTokens = []string{tokDev}; c.Persister = p; c.DisableStreaming = true })
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := featureNames(e.store, "development"); !slices.Equal(got, []string{"saved"}) {
		t.Errorf("features when the upstream validates but cannot serve features = %v, want the backup's", got)
	}
	if tok, _ := e.Tokens().Get(tokFront); tok.Status != flags.TokenInvalid {
		t.Errorf("a persisted token the reachable upstream does not confirm is %v, want invalid", tok.Status)
	}
}

func TestEdgeLoadErrorIsNotFatal(t *testing.T) {
	f := newFakeUnleash(t)
	f.addToken(tokDev, flags.TokenClient)
	e := newTestEdge(t, f, func(c *Config) {
		c.StartupTokens = []string{tokDev}
		c.Persister = &memPersister{loadErr: errors.New("corrupt backup")}
	})
	if err := e.Start(context.Background()); err != nil {
		t.Errorf("Start with a failing Load = %v, want nil", err)
	}
}

func TestEdgeReadyWaitsForFeatures(t *testing.T) {
	f := newFakeUnleash(t)
	f.addToken(tokDev, flags.TokenClient)
	f.setFeature("development", feature("a", "default", true))
	f.set(func(f *fakeUnleash) { f.status["/api/client/features"] = 503 })
	e := newTestEdge(t, f, func(c *Config) { c.StartupTokens = []string{tokDev}; c.DisableStreaming = true })
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if e.Ready() {
		t.Error("ready with a valid token and no features")
	}
	f.set(func(f *fakeUnleash) { delete(f.status, "/api/client/features") })
	eventually(t, 3*time.Second, "readiness", e.Ready)
}

func TestEdgeShutdownPersists(t *testing.T) {
	f := newFakeUnleash(t)
	f.addToken(tokDev, flags.TokenClient)
	f.setFeature("development", feature("a", "default", true))
	p := &memPersister{}
	e := newTestEdge(t, f, func(c *Config) { c.StartupTokens = []string{tokDev}; c.Persister = p; c.DisableStreaming = true })
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Validator().Validate(context.Background(), tokBad); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown = %v", err)
	}
	st, saves := p.saved()
	if saves != 1 || st == nil {
		t.Fatalf("Shutdown saved %d times, want once", saves)
	}
	if len(st.Tokens) != 1 || st.Tokens[0].Raw != tokDev {
		t.Errorf("saved tokens = %+v, want only the validated one", st.Tokens)
	}
	if cf := st.Features["development"]; cf == nil || len(cf.Features) != 1 || cf.Features[0].Name != "a" {
		t.Errorf("saved features = %+v", st.Features)
	}
	if err := e.Shutdown(ctx); err != nil {
		t.Errorf("second Shutdown = %v", err)
	}
	if _, saves := p.saved(); saves != 1 {
		t.Errorf("second Shutdown saved again (%d)", saves)
	}
}

func TestEdgeStartupTokensRetriedUntilKnown(t *testing.T) {
	f := newFakeUnleash(t)
	f.addToken(tokDev, flags.TokenClient)
	f.setFeature("development", feature("a", "default", true))
	f.set(func(f *fakeUnleash) { f.down = true })
	p := &memPersister{state: &flags.PersistedState{Tokens: []flags.Token{mustToken(t, tokProd, flags.TokenClient)}}}
	e := newTestEdge(t, f, func(c *Config) { c.StartupTokens = []string{tokDev}; c.Persister = p; c.DisableStreaming = true })
	if err := e.Start(context.Background()); err != nil {
		t.Fatalf("Start = %v (a restored token counts)", err)
	}
	if e.Ready() {
		t.Error("ready with known tokens and no features")
	}
	f.set(func(f *fakeUnleash) { f.down = false })
	eventually(t, 3*time.Second, "the startup token to be validated and hydrated", func() bool {
		tok, _ := e.Tokens().Get(tokDev)
		return tok.Status == flags.TokenValidated && slices.Equal(featureNames(e.store, "development"), []string{"a"})
	})
	if !e.Ready() {
		t.Error("not ready after the startup token's hydration")
	}
}
