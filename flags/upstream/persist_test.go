package upstream

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/brink-edge/brink/flags"
	"github.com/brink-edge/brink/flags/persist"
)

// TestEdgeRestartsFromBackupFolder: an Edge that synced saves to a backup
// folder (flags/persist) at shutdown; the next Edge, started while the
// upstream is down, serves the saved tokens and features.
func TestEdgeRestartsFromBackupFolder(t *testing.T) {
	dir := t.TempDir()
	f := newFakeUnleash(t)
	f.addToken(tokDev, flags.TokenClient)
	f.addToken(tokFront, flags.TokenFrontend)
	f.setFeature("development", feature("a", "default", true))

	backup := func() flags.Persister {
		p, err := persist.NewFile(dir)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	first, err := New(Config{
		ClientConfig:  ClientConfig{URL: f.srv.URL, RequestTimeout: time.Second, SocketTimeout: 2 * time.Second},
		Store:         new(flags.Store),
		StartupTokens: []string{tokDev},
		Persister:     backup(),
		Logger:        testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := first.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if tok, err := first.Validator().Validate(ctx, tokFront); err != nil || tok.Status != flags.TokenValidated {
		t.Fatalf("Validate(frontend) = %+v, %v", tok, err)
	}
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := first.Shutdown(sctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}

	f.set(func(f *fakeUnleash) { f.down = true })
	second := newTestEdge(t, f, func(c *Config) { c.StartupTokens = []string{tokDev}; c.Persister = backup(); c.DisableStreaming = true })
	if err := second.Start(ctx); err != nil {
		t.Fatalf("Start from the backup with the upstream down: %v", err)
	}
	if got := featureNames(second.store, "development"); !slices.Equal(got, []string{"a"}) {
		t.Errorf("restored features = %v, want [a]", got)
	}
	for _, raw := range []string{tokDev, tokFront} {
		if tok, _ := second.Tokens().Get(raw); tok.Status != flags.TokenValidated {
			t.Errorf("restored token %s is %v", tok.Anonymised(), tok.Status)
		}
	}
	front, _ := second.Tokens().Get(tokFront)
	if front.Type != flags.TokenFrontend || !second.store.Environments()["development"].Covers(&front) {
		t.Errorf("restored frontend token %+v is not covered by the restored state", front)
	}
	if !second.Ready() {
		t.Error("not ready after restoring from the backup")
	}
}
