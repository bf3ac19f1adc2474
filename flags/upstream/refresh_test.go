package upstream

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/brink-edge/brink/flags"
)

// newTestEdge builds an Edge on f with short intervals; it is shut down
// at the end of the test.
func newTestEdge(t *testing.T, f *fakeUnleash, mod func(*Config)) *Edge {
	t.Helper()
	cfg := Config{
		ClientConfig:            ClientConfig{URL: f.srv.URL, RequestTimeout: time.Second, SocketTimeout: 2 * time.Second, Version: "1.2.3"},
		Store:                   new(flags.Store),
		FeaturesRefreshInterval: 50 * time.Millisecond,
		StartupRetryInterval:    20 * time.Millisecond,
		StreamReconnectDelay:    50 * time.Millisecond,
		Logger:                  testLogger(t),
	}
	if mod != nil {
		mod(&cfg)
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return e
}

func mustToken(t *testing.T, raw string, typ flags.TokenType, projects ...string) flags.Token {
	t.Helper()
	tok, err := flags.ParseToken(raw)
	if err != nil {
		t.Fatal(err)
	}
	tok.Type, tok.Status = typ, flags.TokenValidated
	if len(projects) > 0 {
		tok.Projects = projects
	}
	return tok
}

func names(cf *flags.ClientFeatures) string {
	var out []string
	for _, f := range cf.Features {
		out = append(out, f.Name+"@"+f.Project)
	}
	return strings.Join(out, ",")
}

func TestMergeFeatures(t *testing.T) {
	old := &flags.ClientFeatures{Version: 2, Features: []flags.Feature{
		feature("a1", "alpha", true), feature("b1", "beta", true), feature("d1", "", true), feature("moved", "beta", true),
	}, Segments: []flags.Segment{{ID: 1}, {ID: 3}}}
	tests := []struct {
		name     string
		tok      flags.Token
		upd      []flags.Feature
		want     string
		segments []flags.Segment
	}{
		{"project token replaces its project", mustToken(t, tokDevA, flags.TokenClient), []flags.Feature{feature("a2", "alpha", true)},
			"a2@alpha,b1@beta,d1@,moved@beta", nil},
		{"wildcard replaces everything", mustToken(t, tokDev, flags.TokenClient), []flags.Feature{feature("z", "zeta", true)}, "z@zeta", nil},
		{"empty answer empties the project", mustToken(t, tokDevB, flags.TokenClient), nil, "a1@alpha,d1@", nil},
		{"feature without project is in default", mustToken(t, "default:development.x", flags.TokenClient), []flags.Feature{}, "a1@alpha,b1@beta,moved@beta", nil},
		{"a feature moved between projects appears once", mustToken(t, tokDevA, flags.TokenClient), []flags.Feature{feature("moved", "alpha", true)},
			"b1@beta,d1@,moved@alpha", nil},
		{"multi-project token", mustToken(t, "[]:development.x", flags.TokenClient, "alpha", "beta"), []flags.Feature{feature("n", "beta", true)},
			"d1@,n@beta", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			upd := &flags.ClientFeatures{Version: 2, Features: tt.upd, Segments: []flags.Segment{{ID: 2}, {ID: 3, Name: "new"}}}
			before := names(old)
			got := mergeFeatures(old, tt.tok, upd)
			if names(got) != tt.want {
				t.Errorf("merged features = %s, want %s", names(got), tt.want)
			}
			if names(old) != before {
				t.Errorf("mergeFeatures modified old: %s", names(old))
			}
			ids := []int{}
			for _, s := range got.Segments {
				ids = append(ids, s.ID)
			}
			if !slices.Equal(ids, []int{1, 2, 3}) || got.Segments[2].Name != "new" {
				t.Errorf("merged segments = %+v, want 1, 2, 3 with 3 from the update", got.Segments)
			}
		})
	}
	if got := mergeFeatures(nil, mustToken(t, tokDevA, flags.TokenClient), &flags.ClientFeatures{}); got.Features == nil {
		t.Error("mergeFeatures into nothing left Features nil")
	}
}

func TestUnionProjects(t *testing.T) {
	a, b := mustToken(t, tokDevA, flags.TokenClient), mustToken(t, tokDevB, flags.TokenClient)
	w := mustToken(t, tokDev, flags.TokenClient)
	if got := unionProjects([]flags.Token{b, a, b}); !slices.Equal(got, []string{"alpha", "beta"}) {
		t.Errorf("unionProjects(b, a, b) = %v", got)
	}
	if got := unionProjects([]flags.Token{a, w}); !slices.Equal(got, []string{"*"}) {
		t.Errorf("unionProjects(a, *) = %v", got)
	}
	if got := unionProjects(nil); got == nil || len(got) != 0 {
		t.Errorf("unionProjects() = %#v, want empty and not nil (nil means every project)", got)
	}
}

func TestRefreshPollsWithETag(t *testing.T) {
	f := newFakeUnleash(t)
	f.addToken(tokDev, flags.TokenClient)
	f.setFeature("development", feature("a", "default", false))
	e := newTestEdge(t, f, func(c *Config) { c.StartupTokens = []string{tokDev}; c.DisableStreaming = true })
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "two 304 answers", func() bool {
		n := 0
		f.get(func(f *fakeUnleash) { n = f.notModified })
		return n >= 2
	})
	rs := e.Refreshes()
	if len(rs) != 1 {
		t.Fatalf("Refreshes() = %+v, want one", rs)
	}
	r := rs[0]
	if r.ETag == "" || r.LastFeatureCount != 1 || r.FailureCount != 0 || !r.LastCheck.After(r.LastRefreshed) || !r.NextRefresh.After(r.LastCheck) {
		t.Errorf("refresh status = %+v, want an ETag, 1 feature, a check after the refresh and a next refresh after that", r)
	}
	if r.Token.Raw != (flags.Token{Raw: tokDev}).Anonymised() || strings.Contains(r.Token.Raw, "0123456789abcdef0123456789abcdef") {
		t.Errorf("refresh status token = %q, want it anonymised", r.Token.Raw)
	}
	// A change shows within two refresh intervals (allowing for the race
	// detector's slowness).
	f.setFeature("development", feature("a", "default", true))
	eventually(t, 2*time.Second, "the change to show", func() bool {
		on, _ := enabledIn(e.store, "development", "a")
		return on
	})
}

func TestRefreshBackoff(t *testing.T) {
	f := newFakeUnleash(t)
	f.addToken(tokDev, flags.TokenClient)
	e := newTestEdge(t, f, func(c *Config) { c.FeaturesRefreshInterval = time.Second; c.DisableStreaming = true })
	r := e.refresh
	tok := mustToken(t, tokDev, flags.TokenClient)
	r.register(tok)
	st := r.refs[tokDev]
	ctx := context.Background()
	check := func(wantFailures uint32) {
		t.Helper()
		r.mu.Lock()
		failures, next := st.failures, st.next
		r.mu.Unlock()
		want := time.Now().Add(time.Second * time.Duration(1+wantFailures))
		if failures != wantFailures || next.Sub(want).Abs() > 300*time.Millisecond {
			t.Fatalf("after a fetch: failures %d, next in %v; want %d, next in %v", failures, time.Until(next), wantFailures, time.Until(want))
		}
	}
	for i, code := range []int{503, 429, 404, 500, 502, 503, 503, 503, 503, 503, 503, 503} {
		f.set(func(f *fakeUnleash) { f.status["/api/client/features"] = code })
		r.refreshOne(ctx, st)
		check(uint32(min(i+1, maxFailures)))
	}
	f.set(func(f *fakeUnleash) { delete(f.status, "/api/client/features") })
	r.refreshOne(ctx, st) // 200
	check(maxFailures - 1)
	r.refreshOne(ctx, st) // 304
	check(maxFailures - 2)
	f.set(func(f *fakeUnleash) { f.down = true })
	r.refreshOne(ctx, st) // transport error
	check(maxFailures - 1)
}

func TestRefreshSubsumption(t *testing.T) {
	f := newFakeUnleash(t)
	e := newTestEdge(t, f, nil)
	r := e.refresh
	a, b := mustToken(t, tokDevA, flags.TokenClient), mustToken(t, tokDevB, flags.TokenClient)
	w := mustToken(t, tokDev, flags.TokenClient)
	fr := mustToken(t, tokFront, flags.TokenFrontend)
	p := mustToken(t, tokProd, flags.TokenClient)
	if !r.register(a) || !r.register(b) {
		t.Fatal("project tokens were not registered")
	}
	if !r.register(w) {
		t.Fatal("the wildcard token was not registered")
	}
	if r.register(a) || r.register(w) {
		t.Error("a subsumed or known token was registered again")
	}
	if !r.register(p) {
		t.Error("a token of another environment was not registered")
	}
	if !r.register(fr) {
		t.Error("a token of another type is not subsumed")
	}
	var got []string
	for _, s := range r.refreshes() {
		got = append(got, s.Token.Environment+"/"+strings.Join(s.Token.Projects, "+")+"/"+s.Token.Type.String())
	}
	if want := "development/*/client,development/*/frontend,production/*/client"; strings.Join(got, ",") != want {
		t.Errorf("refresh set = %s, want %s", strings.Join(got, ","), want)
	}
}

func TestRefreshMergesProjectTokens(t *testing.T) {
	f := newFakeUnleash(t)
	f.addToken(tokDevA, flags.TokenClient)
	f.addToken(tokDevB, flags.TokenClient)
	f.setFeature("development", feature("x", "alpha", false))
	f.setFeature("development", feature("y", "beta", true))
	f.setFeature("development", feature("z", "gamma", true))
	e := newTestEdge(t, f, func(c *Config) { c.DisableStreaming = true })
	ctx := context.Background()
	for _, raw := range []string{tokDevA, tokDevB} {
		if tok, err := e.Validator().Validate(ctx, raw); err != nil || tok.Status != flags.TokenValidated {
			t.Fatalf("Validate(%s) = %+v, %v", raw, tok, err)
		}
	}
	if got := featureNames(e.store, "development"); !slices.Equal(got, []string{"x", "y"}) {
		t.Fatalf("features after validating both tokens = %v, want x, y", got)
	}
	if snap := e.store.Environments()["development"]; !slices.Equal(snap.Projects, []string{"alpha", "beta"}) {
		t.Errorf("published projects = %v, want alpha, beta", snap.Projects)
	}
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	f.setFeature("development", feature("x", "alpha", true))
	eventually(t, 3*time.Second, "alpha's change", func() bool {
		on, _ := enabledIn(e.store, "development", "x")
		return on
	})
	if got := featureNames(e.store, "development"); !slices.Equal(got, []string{"x", "y"}) {
		t.Errorf("features after alpha's refresh = %v, want beta's kept", got)
	}
}

func TestRefreshDeniedDropsToken(t *testing.T) {
	f := newFakeUnleash(t)
	f.addToken(tokDevA, flags.TokenClient)
	f.addToken(tokDevB, flags.TokenClient)
	f.setFeature("development", feature("x", "alpha", true))
	f.setFeature("development", feature("y", "beta", true))
	e := newTestEdge(t, f, func(c *Config) { c.DisableStreaming = true })
	ctx := context.Background()
	for _, raw := range []string{tokDevA, tokDevB} {
		if _, err := e.Validator().Validate(ctx, raw); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	f.set(func(f *fakeUnleash) { f.denied[tokDevA] = true })
	eventually(t, 3*time.Second, "alpha's token to leave the refresh set", func() bool { return len(e.Refreshes()) == 1 })
	if snap := e.store.Environments()["development"]; snap == nil || !slices.Equal(snap.Projects, []string{"beta"}) {
		t.Fatalf("after alpha's 401 the environment is %+v, want it kept for beta only", snap)
	}
	f.set(func(f *fakeUnleash) { f.status["/api/client/features"] = 403 })
	eventually(t, 3*time.Second, "the environment to be dropped", func() bool { return e.store.Environments()["development"] == nil })
	if n := len(e.Refreshes()); n != 0 {
		t.Errorf("refresh set has %d tokens after every one was denied", n)
	}
}

func TestTokenRefreshJSON(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tok := mustToken(t, tokDev, flags.TokenClient)
	tok.Raw = tok.Anonymised()
	full, _ := json.Marshal(TokenRefresh{Token: tok, ETag: `"abc"`, NextRefresh: at, LastRefreshed: at, LastFeatureCount: 3, LastCheck: at, RevisionID: 9, FailureCount: 2})
	want := `{"token":{"token":"*:development.012345****abcdef","type":"client","environment":"development","projects":["*"],"status":"Validated"},` +
		`"etag":"\"abc\"","next_refresh":"2026-01-02T03:04:05Z","last_refreshed":"2026-01-02T03:04:05Z","last_feature_count":3,` +
		`"last_check":"2026-01-02T03:04:05Z","revision_id":9,"failure_count":2}`
	if string(full) != want {
		t.Errorf("TokenRefresh JSON =\n%s\nwant\n%s", full, want)
	}
	empty, _ := json.Marshal(TokenRefresh{Token: tok})
	if !strings.Contains(string(empty), `"etag":null,"next_refresh":null,"last_refreshed":null,"last_feature_count":null,"last_check":null,"revision_id":null,"failure_count":0`) {
		t.Errorf("TokenRefresh JSON of a fresh token = %s, want nulls", empty)
	}
}
