package upstream

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/brink-edge/brink/flags"
	"github.com/brink-edge/brink/flags/api"
)

// chainUpstream serves brink's own API (flags/api) on 127.0.0.1 from store
// and tokens: the upstream of a daisy chain.
func chainUpstream(t *testing.T, store *flags.Store, tokens *flags.TokenCache) string {
	t.Helper()
	h, err := api.New(api.Config{Store: store, Tokens: tokens, StreamKeepAlive: time.Second, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: h.Handle}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		h.CloseStreams()
		_ = srv.Shutdown()
		<-done
	})
	return "http://" + ln.Addr().String()
}

// TestDaisyChainStreamsFromBrink chains an Edge behind brink's own API: the
// startup token validates through the upstream's /edge/validate, the
// features are fetched, the upstream's /api/client/streaming is used, and
// a change published upstream arrives over the stream (polling is set too
// slow to deliver it).
func TestDaisyChainStreamsFromBrink(t *testing.T) {
	up := new(flags.Store)
	tokens := new(flags.TokenCache)
	tokens.Add(mustToken(t, tokDev, flags.TokenClient))
	up.PublishProjects("development", flags.Compile(&flags.ClientFeatures{Version: 2, Features: []flags.Feature{feature("a", "default", false)}}), "test", nil)
	url := chainUpstream(t, up, tokens)

	e, err := New(Config{
		ClientConfig:            ClientConfig{URL: url, RequestTimeout: time.Second, SocketTimeout: 2 * time.Second},
		Store:                   new(flags.Store),
		StartupTokens:           []string{tokDev},
		FeaturesRefreshInterval: time.Hour,
		StreamReconnectDelay:    50 * time.Millisecond,
		Logger:                  testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = e.Shutdown(ctx)
	})
	if err := e.Start(context.Background()); err != nil {
		t.Fatalf("Start behind brink: %v", err)
	}
	if on, found := enabledIn(e.store, "development", "a"); !found || on {
		t.Fatalf("after the hot start: found %v, enabled %v", found, on)
	}
	eventually(t, 5*time.Second, "streaming mode", func() bool {
		e.refresh.mu.Lock()
		defer e.refresh.mu.Unlock()
		st := e.refresh.refs[tokDev]
		return st != nil && st.streaming
	})
	up.PublishProjects("development", flags.Compile(&flags.ClientFeatures{Version: 2, Features: []flags.Feature{
		feature("a", "default", true), feature("b", "default", true),
	}}), "test", nil)
	eventually(t, 5*time.Second, "the streamed change", func() bool {
		on, _ := enabledIn(e.store, "development", "a")
		_, hasB := enabledIn(e.store, "development", "b")
		return on && hasB
	})
}
