package upstream_test

import (
	"context"
	"log"
	"time"

	"github.com/brink-edge/brink/flags"
	"github.com/brink-edge/brink/flags/upstream"
)

// Example wires edge mode: the Edge keeps store fresh from the upstream,
// its Validator resolves tokens the API does not know, and Shutdown saves
// the state a last time.
func Example() {
	store := new(flags.Store)
	tokens := new(flags.TokenCache)
	edge, err := upstream.New(upstream.Config{
		ClientConfig: upstream.ClientConfig{
			URL:           "https://unleash.example.com",
			CustomHeaders: []string{"X-Api-Key: secret"},
		},
		Store:                   store,
		Tokens:                  tokens,
		StartupTokens:           []string{"*:development.abcdef0123456789"},
		FeaturesRefreshInterval: 10 * time.Second,
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	if err := edge.Start(ctx); err != nil {
		log.Fatal(err) // e.g. upstream.ErrNoValidTokens
	}
	// Hand edge.Validator() to the HTTP API, edge.Ready to its readiness
	// probe and edge.Refreshes to /internal-backstage/tokens; then, on
	// SIGTERM:
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := edge.Shutdown(ctx); err != nil {
		log.Print(err)
	}
}
