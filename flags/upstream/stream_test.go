package upstream

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/brink-edge/brink/flags"
)

func streamCalls(f *fakeUnleash) (int, []string) {
	var n int
	var ids []string
	f.get(func(f *fakeUnleash) { n, ids = f.streamCalls, append([]string(nil), f.lastEventIDs...) })
	return n, ids
}

func hasFeature(e *Edge, name string) func() bool {
	return func() bool {
		_, ok := enabledIn(e.store, "development", name)
		return ok
	}
}

// TestStreamingAppliesEventsAndResumes: with an upstream that streams and
// a polling interval too long to matter, changes arrive over the stream;
// after the stream drops, it reconnects with Last-Event-ID.
func TestStreamingAppliesEventsAndResumes(t *testing.T) {
	f := newFakeUnleash(t)
	f.addToken(tokDev, flags.TokenClient)
	f.setFeature("development", feature("a", "default", true))
	f.set(func(f *fakeUnleash) { f.streaming = true })
	e := newTestEdge(t, f, func(c *Config) { c.StartupTokens = []string{tokDev}; c.FeaturesRefreshInterval = time.Hour })
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, 3*time.Second, "the stream to open", func() bool { return f.openStreams() == 1 })
	eventually(t, 3*time.Second, "the stream's hydration", func() bool {
		r := e.Refreshes()
		return len(r) == 1 && r[0].RevisionID == 1
	})
	f.setFeature("development", feature("b", "default", true))
	eventually(t, 3*time.Second, "the streamed update", hasFeature(e, "b"))

	var id int
	f.get(func(f *fakeUnleash) { id = f.eventID })
	f.dropStreams()
	eventually(t, 3*time.Second, "the stream to reconnect", func() bool { n, _ := streamCalls(f); return n == 2 && f.openStreams() == 1 })
	if _, ids := streamCalls(f); ids[1] != strconv.Itoa(id) {
		t.Errorf("reconnected with Last-Event-ID %q, want %d (Last-Event-IDs %q)", ids[1], id, ids)
	}
	f.setFeature("development", feature("c", "default", true))
	eventually(t, 3*time.Second, "the update after the reconnect", hasFeature(e, "c"))
	if got := featureNames(e.store, "development"); len(got) != 3 {
		t.Errorf("features = %v, want a, b, c", got)
	}
	f.get(func(f *fakeUnleash) {
		if n := f.featureCalls[tokDev]; n != 1 {
			t.Errorf("features were polled %d times while streaming, want only the hydration", n)
		}
	})
	st, ids := e.refresh.state()
	if st["development"] == nil || ids["development"] != uint32(id+1) {
		t.Errorf("persistable state = %v, last event ids %v; want the development features at event %d", st, ids, id+1)
	}
}

// TestStreamingFallsBackToPolling: an upstream without streaming (404) is
// asked once per environment, then polled.
func TestStreamingFallsBackToPolling(t *testing.T) {
	f := newFakeUnleash(t)
	f.addToken(tokDev, flags.TokenClient)
	f.setFeature("development", feature("a", "default", true))
	e := newTestEdge(t, f, func(c *Config) { c.StartupTokens = []string{tokDev} })
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, 3*time.Second, "the streaming attempt", func() bool { n, _ := streamCalls(f); return n == 1 })
	f.setFeature("development", feature("b", "default", true))
	eventually(t, 3*time.Second, "the polled update", hasFeature(e, "b"))
	time.Sleep(200 * time.Millisecond)
	if n, _ := streamCalls(f); n != 1 {
		t.Errorf("streaming was tried %d times, want once per environment", n)
	}
}

// TestStreamingInterruptedPollsMeanwhile: while the stream cannot
// reconnect (503), the token is polled; once it can, streaming resumes.
func TestStreamingInterruptedPollsMeanwhile(t *testing.T) {
	f := newFakeUnleash(t)
	f.addToken(tokDev, flags.TokenClient)
	f.setFeature("development", feature("a", "default", true))
	f.set(func(f *fakeUnleash) { f.streaming = true })
	e := newTestEdge(t, f, func(c *Config) {
		c.StartupTokens = []string{tokDev}
		c.FeaturesRefreshInterval = 100 * time.Millisecond
	})
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, 3*time.Second, "the stream to open", func() bool { return f.openStreams() == 1 && e.refresh.refs[tokDev] != nil })
	eventually(t, 3*time.Second, "streaming mode", func() bool {
		e.refresh.mu.Lock()
		defer e.refresh.mu.Unlock()
		return e.refresh.refs[tokDev].streaming
	})
	f.set(func(f *fakeUnleash) { f.status["/api/client/streaming"] = 503 })
	f.dropStreams()
	f.setFeature("development", feature("b", "default", true)) // no stream is open to carry it
	eventually(t, 3*time.Second, "the polled update while the stream is down", hasFeature(e, "b"))
	f.set(func(f *fakeUnleash) { delete(f.status, "/api/client/streaming") })
	eventually(t, 5*time.Second, "the stream to reconnect", func() bool { return f.openStreams() == 1 })
	f.setFeature("development", feature("c", "default", true))
	eventually(t, 3*time.Second, "the streamed update after the reconnect", hasFeature(e, "c"))
}

// TestStreamingDeniedDropsToken: a 401 on the stream drops the token.
func TestStreamingDeniedDropsToken(t *testing.T) {
	f := newFakeUnleash(t)
	f.addToken(tokDev, flags.TokenClient)
	f.set(func(f *fakeUnleash) { f.streaming = true })
	e := newTestEdge(t, f, func(c *Config) { c.StartupTokens = []string{tokDev}; c.FeaturesRefreshInterval = time.Hour })
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, 3*time.Second, "the stream to open", func() bool { return f.openStreams() == 1 })
	f.set(func(f *fakeUnleash) { f.denied[tokDev] = true })
	f.dropStreams()
	eventually(t, 3*time.Second, "the token to leave the refresh set", func() bool { return len(e.Refreshes()) == 0 })
}
