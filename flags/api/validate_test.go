package api

import (
	"bytes"
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/brink-edge/brink/flags"
)

// fakeValidator answers from a fixed table, records definite answers in
// the token cache as the real validator does, and counts its calls.
type fakeValidator struct {
	cache   *flags.TokenCache
	answers map[string]flags.Token // missing: Invalid
	// delay makes a call that long; ignoreCtx makes it ignore its context.
	delay     time.Duration
	ignoreCtx bool
	mu        sync.Mutex
	calls     map[string]int
}

func (f *fakeValidator) Validate(ctx context.Context, raw string) (flags.Token, error) {
	f.mu.Lock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[raw]++
	f.mu.Unlock()
	if f.delay > 0 {
		if f.ignoreCtx {
			time.Sleep(f.delay)
		} else {
			select {
			case <-time.After(f.delay):
			case <-ctx.Done():
				return flags.Token{Raw: raw, Status: flags.TokenUnknown}, ctx.Err()
			}
		}
	}
	t, ok := f.answers[raw]
	if !ok {
		t = flags.Token{Raw: raw, Status: flags.TokenInvalid}
	}
	if t.Status != flags.TokenUnknown {
		f.cache.Add(t)
	}
	return t, nil
}

func (f *fakeValidator) callsFor(raw string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[raw]
}

func (f *fakeValidator) total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		n += c
	}
	return n
}

const (
	tokNewClient   = "*:development.newclient"
	tokNewFront    = "*:development.newfront"
	tokNewOther    = "other:development.newother"
	tokNewInvalid  = "*:development.rejected"
	tokNewDown     = "*:development.upstreamdown"
	tokNewProdOnly = "*:production.newprod"
)

func newValidatorServer(t *testing.T, mod func(*fakeValidator, *Config)) (*testServer, *fakeValidator) {
	t.Helper()
	tokens := testTokens()
	v := &fakeValidator{cache: tokens, answers: map[string]flags.Token{
		tokNewClient:   {Raw: tokNewClient, Type: flags.TokenClient, Environment: "development", Projects: []string{"*"}, Status: flags.TokenValidated},
		tokNewFront:    {Raw: tokNewFront, Type: flags.TokenFrontend, Environment: "development", Projects: []string{"*"}, Status: flags.TokenValidated},
		tokNewOther:    {Raw: tokNewOther, Type: flags.TokenClient, Environment: "development", Projects: []string{"other"}, Status: flags.TokenValidated},
		tokNewDown:     {Raw: tokNewDown, Status: flags.TokenUnknown},
		tokNewProdOnly: {Raw: tokNewProdOnly, Type: flags.TokenClient, Environment: "production", Projects: []string{"*"}, Status: flags.TokenValidated},
	}}
	cfg := Config{Tokens: tokens, Validator: v}
	if mod != nil {
		mod(v, &cfg)
	}
	return newTestServer(t, cfg), v
}

func TestValidatorOutcomes(t *testing.T) {
	s, v := newValidatorServer(t, nil)
	tests := []struct {
		name, uri, token string
		status           int
		calls            int // validator calls for the token after the request
	}{
		{"valid client token", "/api/client/features", tokNewClient, 200, 1},
		{"valid token again: cached", "/api/client/features", tokNewClient, 200, 1},
		{"validated type applies: client token on frontend", "/api/frontend", tokNewClient, 403, 1},
		{"valid frontend token", "/api/frontend", tokNewFront, 200, 1},
		{"validated projects apply", "/api/client/features/alpha", tokNewOther, 404, 1},
		{"invalid token", "/api/client/features", tokNewInvalid, 403, 1},
		{"invalid token again: remembered", "/api/client/features", tokNewInvalid, 403, 1},
		{"upstream down: pending", "/api/client/features", tokNewDown, 401, 1},
		{"upstream down again: asked again", "/api/client/features", tokNewDown, 401, 2},
		{"not in the Unleash format: never asked", "/api/client/features", "garbage", 403, 0},
		{"no dot: never asked", "/api/client/features", "a:b", 403, 0},
		{"known token: never asked", "/api/client/features", tokClient, 200, 0},
		{"known invalid token: never asked", "/api/client/features", tokInvalid, 403, 0},
		{"valid token of another environment (the fallback serves it)", "/api/client/features", tokNewProdOnly, 200, 1},
	}
	for _, tt := range tests {
		resp := s.do(req{uri: tt.uri, token: tt.token})
		if resp.StatusCode() != tt.status {
			t.Errorf("%s: %d %s, want %d", tt.name, resp.StatusCode(), resp.Body(), tt.status)
		}
		if got := v.callsFor(tt.token); got != tt.calls {
			t.Errorf("%s: validator called %d times, want %d", tt.name, got, tt.calls)
		}
	}
}

func TestValidatorTimeout(t *testing.T) {
	for _, ignore := range []bool{false, true} {
		s, v := newValidatorServer(t, func(v *fakeValidator, c *Config) {
			v.delay, v.ignoreCtx = 2*time.Second, ignore
			c.ValidateTimeout = 100 * time.Millisecond
		})
		start := time.Now()
		resp := s.do(req{uri: "/api/client/features", token: tokNewClient})
		if took := time.Since(start); resp.StatusCode() != 401 || took > time.Second {
			t.Errorf("slow validator (ignoring its context: %v): %d after %v, want 401 after about 100ms", ignore, resp.StatusCode(), took)
		}
		if v.total() != 1 {
			t.Errorf("validator called %d times", v.total())
		}
	}
}

func TestValidatorCalledOncePerConcurrentToken(t *testing.T) {
	s, v := newValidatorServer(t, func(v *fakeValidator, _ *Config) { v.delay = 200 * time.Millisecond })
	var wg sync.WaitGroup
	var ok atomic.Int64
	for range 20 {
		wg.Go(func() {
			if s.do(req{uri: "/api/client/features", token: tokNewClient}).StatusCode() == 200 {
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 20 {
		t.Errorf("%d of 20 requests succeeded", ok.Load())
	}
	if n := v.callsFor(tokNewClient); n != 1 {
		t.Errorf("validator called %d times for one new token, want 1", n)
	}
}

func TestEdgeValidatePassthrough(t *testing.T) {
	s, v := newValidatorServer(t, nil)
	body, _ := json.Marshal(map[string][]string{"tokens": {tokClient, tokNewClient, tokNewInvalid, "garbage", tokNewFront, tokNewClient, tokInvalid, tokNewDown}})
	resp := s.do(req{method: "POST", uri: "/edge/validate", body: string(body)})
	if resp.StatusCode() != 200 {
		t.Fatalf("status %d %s", resp.StatusCode(), resp.Body())
	}
	var ans struct {
		Tokens []flags.Token `json:"tokens"`
	}
	if err := json.Unmarshal(resp.Body(), &ans); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tk := range ans.Tokens {
		got = append(got, tk.Raw+"/"+tk.Type.String()+"/"+tk.Status.String())
	}
	want := []string{tokClient + "/client/Validated", tokNewClient + "/client/Validated", tokNewFront + "/frontend/Validated"}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("validate answered %v, want %v", got, want)
	}
	for raw, n := range map[string]int{tokNewClient: 1, tokNewInvalid: 1, tokNewFront: 1, tokNewDown: 1, "garbage": 0, tokClient: 0, tokInvalid: 0} {
		if c := v.callsFor(raw); c != n {
			t.Errorf("validator called %d times for %s, want %d", c, raw, n)
		}
	}
	// Without a Validator only the cache answers.
	plain := newTestServer(t, Config{})
	resp = plain.do(req{method: "POST", uri: "/edge/validate", body: string(body)})
	if !bytes.Equal(resp.Body(), []byte(`{"tokens":[{"token":"*:development.client","type":"client","environment":"development","projects":["*"],"status":"Validated"}]}`)) {
		t.Errorf("validate without validator: %s", resp.Body())
	}
}

func TestTokensEndpointRefreshes(t *testing.T) {
	type refresh struct {
		Token string `json:"token"`
		ETag  string `json:"etag"`
	}
	var refreshes []refresh
	s := newTestServer(t, Config{TokenRefreshes: func() any { return refreshes }})
	body := s.do(req{uri: "/internal-backstage/tokens"}).Body()
	if !bytes.Contains(body, []byte(`"tokenRefreshes":[]`)) {
		t.Errorf("nil refreshes: %s", body)
	}
	refreshes = []refresh{{Token: "*:development.abc****def", ETag: `"x"`}}
	body = s.do(req{uri: "/internal-backstage/tokens"}).Body()
	if !bytes.Contains(body, []byte(`"tokenRefreshes":[{"token":"*:development.abc****def","etag":"\"x\""}]`)) || !bytes.Contains(body, []byte(`"invalidTokenCount":2`)) {
		t.Errorf("refreshes: %s", body)
	}
}
