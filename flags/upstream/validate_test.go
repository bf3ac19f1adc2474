package upstream

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/brink-edge/brink/flags"
)

func validateCalls(f *fakeUnleash) int {
	n := 0
	f.get(func(f *fakeUnleash) { n = f.validateCalls })
	return n
}

func TestValidatorValidClientTokenIsCachedAndHydrated(t *testing.T) {
	f := newFakeUnleash(t)
	f.addToken(tokDev, flags.TokenClient)
	f.setFeature("development", feature("a", "default", true))
	e := newTestEdge(t, f, func(c *Config) { c.DisableStreaming = true })
	tok, err := e.Validator().Validate(context.Background(), tokDev)
	if err != nil || tok.Status != flags.TokenValidated || tok.Type != flags.TokenClient || tok.Environment != "development" || !tok.AllProjects() {
		t.Fatalf("Validate = %+v, %v; want a validated client token", tok, err)
	}
	if cached, ok := e.Tokens().Get(tokDev); !ok || cached.Status != flags.TokenValidated {
		t.Errorf("cache holds %+v, %v; want the validated token", cached, ok)
	}
	// Hydrated before Validate returned: the API can answer at once.
	if got := featureNames(e.store, "development"); !slices.Equal(got, []string{"a"}) {
		t.Errorf("features right after Validate = %v, want [a]", got)
	}
	if snap := e.store.Environments()["development"]; !snap.Covers(&tok) {
		t.Errorf("published snapshot (projects %v) does not cover the token", snap.Projects)
	}
	eventually(t, 3*time.Second, "the upstream registration", func() bool {
		var apps []flags.ClientApplication
		f.get(func(f *fakeUnleash) { apps = f.registrations })
		return len(apps) == 1 && apps[0].SDKVersion == "brink:1.2.3" && apps[0].Environment == "development"
	})
	before := validateCalls(f)
	if again, err := e.Validator().Validate(context.Background(), tokDev); err != nil || again.Status != flags.TokenValidated || validateCalls(f) != before {
		t.Errorf("second Validate = %+v, %v with %d upstream calls; want the cached answer", again, err, validateCalls(f)-before)
	}
}

func TestValidatorInvalidTokenIsCached(t *testing.T) {
	f := newFakeUnleash(t)
	e := newTestEdge(t, f, nil)
	v := e.Validator()
	ctx := context.Background()
	tok, err := v.Validate(ctx, tokBad)
	if err != nil || tok.Status != flags.TokenInvalid {
		t.Fatalf("Validate(invalid) = %+v, %v; want TokenInvalid", tok, err)
	}
	if cached, ok := e.Tokens().Get(tokBad); !ok || cached.Status != flags.TokenInvalid {
		t.Errorf("cache holds %+v, %v; want the invalid token", cached, ok)
	}
	if _, err := v.Validate(ctx, tokBad); err != nil || validateCalls(f) != 1 {
		t.Errorf("second Validate of an invalid token asked upstream again (%d calls, %v)", validateCalls(f), err)
	}
	if tok, err := v.Validate(ctx, "not-a-token"); err != nil || tok.Status != flags.TokenInvalid || validateCalls(f) != 1 {
		t.Errorf("Validate(malformed) = %+v, %v after %d calls; want invalid without asking", tok, err, validateCalls(f))
	}
	if _, ok := e.Tokens().Get("not-a-token"); ok {
		t.Error("a malformed token was cached")
	}
	if len(e.Refreshes()) != 0 || len(e.store.Environments()) != 0 {
		t.Error("an invalid token was registered for refresh")
	}
}

func TestValidatorBoundsInvalidTokens(t *testing.T) {
	f := newFakeUnleash(t)
	e := newTestEdge(t, f, func(c *Config) { c.MaxInvalidTokens = 2 })
	for _, raw := range []string{"a:dev.1", "a:dev.2", "a:dev.3"} {
		if tok, _ := e.Validator().Validate(context.Background(), raw); tok.Status != flags.TokenInvalid {
			t.Fatalf("Validate(%s) = %+v, want invalid", raw, tok)
		}
	}
	if n := e.Tokens().Len(); n != 2 {
		t.Errorf("cache holds %d invalid tokens, want the bound 2", n)
	}
}

func TestValidatorUnreachableUpstream(t *testing.T) {
	f := newFakeUnleash(t)
	f.addToken(tokDev, flags.TokenClient)
	f.set(func(f *fakeUnleash) { f.down = true })
	e := newTestEdge(t, f, func(c *Config) { c.DisableStreaming = true })
	tok, err := e.Validator().Validate(context.Background(), tokDev)
	if err == nil || tok.Status != flags.TokenUnknown {
		t.Fatalf("Validate with the upstream down = %+v, %v; want TokenUnknown and an error", tok, err)
	}
	if _, ok := e.Tokens().Get(tokDev); ok {
		t.Error("a token that could not be validated was cached")
	}
	f.set(func(f *fakeUnleash) { f.down = false })
	if tok, err := e.Validator().Validate(context.Background(), tokDev); err != nil || tok.Status != flags.TokenValidated {
		t.Errorf("Validate with the upstream back = %+v, %v; want it validated", tok, err)
	}
}

func TestValidatorFrontendTokenIsNotRefreshed(t *testing.T) {
	f := newFakeUnleash(t)
	f.addToken(tokFront, flags.TokenFrontend)
	e := newTestEdge(t, f, nil)
	tok, err := e.Validator().Validate(context.Background(), tokFront)
	if err != nil || tok.Status != flags.TokenValidated || tok.Type != flags.TokenFrontend {
		t.Fatalf("Validate(frontend) = %+v, %v", tok, err)
	}
	if n := len(e.Refreshes()); n != 0 {
		t.Errorf("a frontend token was registered for refresh (%d)", n)
	}
	f.get(func(f *fakeUnleash) {
		if len(f.featureCalls) != 0 {
			t.Errorf("features were fetched for a frontend token: %v", f.featureCalls)
		}
	})
}

func TestValidatorDeduplicatesConcurrentValidations(t *testing.T) {
	f := newFakeUnleash(t)
	f.addToken(tokDev, flags.TokenClient)
	f.set(func(f *fakeUnleash) { f.validateDelay = 200 * time.Millisecond })
	e := newTestEdge(t, f, func(c *Config) { c.DisableStreaming = true })
	var wg sync.WaitGroup
	results := make([]flags.Token, 16)
	for i := range results {
		wg.Go(func() { results[i], _ = e.Validator().Validate(context.Background(), tokDev) })
	}
	wg.Wait()
	for i, r := range results {
		if r.Status != flags.TokenValidated {
			t.Errorf("caller %d got %+v", i, r)
		}
	}
	if n := validateCalls(f); n != 1 {
		t.Errorf("16 concurrent validations of one token made %d upstream calls, want 1", n)
	}
	// A caller that gives up does not cancel the shared validation.
	f.addToken(tokProd, flags.TokenClient)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if tok, err := e.Validator().Validate(ctx, tokProd); err == nil || tok.Status != flags.TokenUnknown {
		t.Errorf("Validate past its deadline = %+v, %v; want TokenUnknown", tok, err)
	}
	eventually(t, 3*time.Second, "the abandoned validation to finish", func() bool {
		tok, ok := e.Tokens().Get(tokProd)
		return ok && tok.Status == flags.TokenValidated
	})
}

func TestRevalidationDropsRevokedTokens(t *testing.T) {
	f := newFakeUnleash(t)
	f.addToken(tokDev, flags.TokenClient)
	f.addToken(tokFront, flags.TokenFrontend)
	f.setFeature("development", feature("a", "default", true))
	e := newTestEdge(t, f, func(c *Config) {
		c.StartupTokens = []string{tokDev, tokFront}
		c.TokenRevalidationInterval = 50 * time.Millisecond
		c.DisableStreaming = true
	})
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.revoke(tokFront)
	eventually(t, 3*time.Second, "the revoked frontend token to turn invalid", func() bool {
		tok, _ := e.Tokens().Get(tokFront)
		return tok.Status == flags.TokenInvalid
	})
	if tok, _ := e.Tokens().Get(tokDev); tok.Status != flags.TokenValidated {
		t.Errorf("the client token still valid upstream became %v", tok.Status)
	}
	f.revoke(tokDev)
	eventually(t, 3*time.Second, "the revoked client token to leave the refresh set", func() bool {
		tok, _ := e.Tokens().Get(tokDev)
		return tok.Status == flags.TokenInvalid && len(e.Refreshes()) == 0 && e.store.Environments()["development"] == nil
	})
}

func TestRevalidationKeepsTokensWhenUpstreamDown(t *testing.T) {
	f := newFakeUnleash(t)
	f.addToken(tokDev, flags.TokenClient)
	e := newTestEdge(t, f, func(c *Config) { c.DisableStreaming = true })
	if _, err := e.Validator().Validate(context.Background(), tokDev); err != nil {
		t.Fatal(err)
	}
	f.set(func(f *fakeUnleash) { f.down = true })
	if err := e.validator.revalidate(context.Background()); err == nil {
		t.Error("revalidate with the upstream down reported no error")
	}
	if tok, _ := e.Tokens().Get(tokDev); tok.Status != flags.TokenValidated {
		t.Errorf("revalidation with the upstream down turned the token %v", tok.Status)
	}
}
