package upstream

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/brink-edge/brink/flags"
)

// fakeUnleash is an in-process upstream: /edge/validate,
// /api/client/features (with ETags), /api/client/delta,
// /api/client/streaming (when streaming is on), /api/client/register.
type fakeUnleash struct {
	t   testing.TB
	srv *httptest.Server

	mu            sync.Mutex
	tokens        map[string]flags.Token        // valid tokens
	features      map[string][]flags.Feature    // env -> features
	status        map[string]int                // path -> forced status
	denied        map[string]bool               // tokens answered 401 on features
	down          bool                          // every request fails at the transport
	streaming     bool                          // /api/client/streaming answers SSE
	events        map[string][]flags.DeltaEvent // env -> event log
	eventID       int
	streams       map[chan []byte]string // open streams -> env
	validateDelay time.Duration

	validateCalls int
	featureCalls  map[string]int // token -> requests
	notModified   int
	streamCalls   int
	lastEventIDs  []string // Last-Event-ID of every stream request
	registrations []flags.ClientApplication
	headers       http.Header // of the last features request
}

func newFakeUnleash(t testing.TB) *fakeUnleash {
	f := &fakeUnleash{
		t: t, tokens: map[string]flags.Token{}, features: map[string][]flags.Feature{},
		status: map[string]int{}, denied: map[string]bool{}, events: map[string][]flags.DeltaEvent{},
		streams: map[chan []byte]string{}, featureCalls: map[string]int{},
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(func() {
		f.dropStreams()
		f.srv.CloseClientConnections()
		f.srv.Close()
	})
	return f
}

// addToken makes raw valid upstream with type typ.
func (f *fakeUnleash) addToken(raw string, typ flags.TokenType) flags.Token {
	t, err := flags.ParseToken(raw)
	if err != nil {
		f.t.Fatalf("ParseToken(%q): %v", raw, err)
	}
	t.Type, t.Status = typ, flags.TokenValidated
	f.mu.Lock()
	f.tokens[raw] = t
	f.mu.Unlock()
	return t
}

func (f *fakeUnleash) revoke(raw string) {
	f.mu.Lock()
	delete(f.tokens, raw)
	f.mu.Unlock()
}

// setFeature adds or replaces a feature of env and logs a delta event.
func (f *fakeUnleash) setFeature(env string, feat flags.Feature) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fs := f.features[env]
	if i := slices.IndexFunc(fs, func(x flags.Feature) bool { return x.Name == feat.Name }); i >= 0 {
		fs[i] = feat
	} else {
		fs = append(fs, feat)
	}
	f.features[env] = fs
	f.eventID++
	ev := flags.DeltaEvent{EventID: f.eventID, Type: flags.DeltaFeatureUpdated, Feature: &feat}
	f.events[env] = append(f.events[env], ev)
	f.broadcastLocked(env, "unleash-updated", []flags.DeltaEvent{ev})
}

func (f *fakeUnleash) set(fn func(f *fakeUnleash)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fakeUnleash) get(fn func(f *fakeUnleash)) { f.set(fn) }

func (f *fakeUnleash) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	down, forced := f.down, f.status[r.URL.Path]
	f.mu.Unlock()
	if down {
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				c.Close()
				return
			}
		}
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	if forced != 0 {
		w.WriteHeader(forced)
		return
	}
	switch r.URL.Path {
	case "/edge/validate":
		f.serveValidate(w, r)
	case "/api/client/features":
		f.serveFeatures(w, r)
	case "/api/client/delta":
		f.serveDelta(w, r)
	case "/api/client/streaming":
		f.serveStream(w, r)
	case "/api/client/register":
		var app flags.ClientApplication
		if err := json.NewDecoder(r.Body).Decode(&app); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		f.registrations = append(f.registrations, app)
		f.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

func (f *fakeUnleash) serveValidate(w http.ResponseWriter, r *http.Request) {
	var req struct{ Tokens []string }
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.validateCalls++
	delay := f.validateDelay
	var out []map[string]any
	for _, raw := range req.Tokens {
		if t, ok := f.tokens[raw]; ok {
			typ := t.Type.String()
			if t.Type == flags.TokenClient {
				typ = "backend" // as Unleash 7.1.1+
			}
			out = append(out, map[string]any{"token": raw, "type": typ, "environment": t.Environment, "projects": t.Projects})
		}
	}
	f.mu.Unlock()
	if delay > 0 {
		time.Sleep(delay)
	}
	if out == nil {
		out = []map[string]any{}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"tokens": out})
}

// auth returns the valid client token of the request, or answers 401.
func (f *fakeUnleash) authLocked(w http.ResponseWriter, r *http.Request) (flags.Token, bool) {
	raw := r.Header.Get("Authorization")
	t, ok := f.tokens[raw]
	if !ok || f.denied[raw] || t.Type != flags.TokenClient {
		w.WriteHeader(http.StatusUnauthorized)
		return flags.Token{}, false
	}
	return t, true
}

// visibleLocked returns the features of env that t sees.
func (f *fakeUnleash) visibleLocked(t flags.Token) []flags.Feature {
	out := []flags.Feature{}
	for _, feat := range f.features[t.Environment] {
		p := feat.Project
		if p == "" {
			p = "default"
		}
		if t.AllProjects() || slices.Contains(t.Projects, p) {
			out = append(out, feat)
		}
	}
	return out
}

func (f *fakeUnleash) serveFeatures(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.headers = r.Header.Clone()
	t, ok := f.authLocked(w, r)
	if !ok {
		f.mu.Unlock()
		return
	}
	f.featureCalls[t.Raw]++
	body, _ := json.Marshal(flags.ClientFeatures{Version: 2, Features: f.visibleLocked(t)})
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:8]) + `"`
	if r.Header.Get("If-None-Match") == etag {
		f.notModified++
		f.mu.Unlock()
		w.WriteHeader(http.StatusNotModified)
		return
	}
	f.mu.Unlock()
	w.Header().Set("ETag", etag)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

func (f *fakeUnleash) serveDelta(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	t, ok := f.authLocked(w, r)
	if !ok {
		f.mu.Unlock()
		return
	}
	since, _ := parseEventID(r.Header.Get("If-None-Match"))
	events := f.deltaLocked(t, int(since))
	id := f.eventID
	f.mu.Unlock()
	if len(events) == 0 {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("ETag", `"`+strconv.Itoa(id)+`"`)
	_ = json.NewEncoder(w).Encode(flags.ClientFeaturesDelta{Events: events})
}

// deltaLocked returns the events after since, or a hydration.
func (f *fakeUnleash) deltaLocked(t flags.Token, since int) []flags.DeltaEvent {
	if since > 0 {
		var out []flags.DeltaEvent
		for _, ev := range f.events[t.Environment] {
			if ev.EventID > since {
				out = append(out, ev)
			}
		}
		return out
	}
	return []flags.DeltaEvent{{EventID: f.eventID, Type: flags.DeltaHydration, Features: f.visibleLocked(t), Segments: []flags.Segment{}}}
}

func (f *fakeUnleash) serveStream(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.streamCalls++
	f.lastEventIDs = append(f.lastEventIDs, r.Header.Get("Last-Event-ID"))
	if !f.streaming {
		f.mu.Unlock()
		w.WriteHeader(http.StatusNotFound)
		return
	}
	t, ok := f.authLocked(w, r)
	if !ok {
		f.mu.Unlock()
		return
	}
	since, _ := parseEventID(r.Header.Get("Last-Event-ID"))
	events := f.deltaLocked(t, int(since))
	ch := make(chan []byte, 16)
	f.streams[ch] = t.Environment
	first := sseFrame("unleash-connected", f.eventID, events)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	fl := w.(http.Flusher)
	_, _ = w.Write(first)
	fl.Flush()
	for {
		select {
		case <-r.Context().Done():
			f.mu.Lock()
			delete(f.streams, ch)
			f.mu.Unlock()
			return
		case msg, ok := <-ch:
			if !ok {
				return
			}
			_, _ = w.Write(msg)
			fl.Flush()
		}
	}
}

func sseFrame(event string, id int, events []flags.DeltaEvent) []byte {
	if events == nil {
		events = []flags.DeltaEvent{}
	}
	data, _ := json.Marshal(flags.ClientFeaturesDelta{Events: events})
	return fmt.Appendf(nil, ": keep-alive\n\nevent: %s\nid: %d\ndata: %s\n\n", event, id, data)
}

func (f *fakeUnleash) broadcastLocked(env, event string, events []flags.DeltaEvent) {
	msg := sseFrame(event, f.eventID, events)
	for ch, e := range f.streams {
		if e == env {
			select {
			case ch <- msg:
			default:
			}
		}
	}
}

// dropStreams ends every open event stream.
func (f *fakeUnleash) dropStreams() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for ch := range f.streams {
		close(ch)
		delete(f.streams, ch)
	}
}

func (f *fakeUnleash) openStreams() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.streams)
}

// testLogger logs to the test output when -v is given.
func testLogger(t testing.TB) *slog.Logger {
	if !testing.Verbose() {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// eventually polls cond every 10 ms until it holds or timeout passes.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func feature(name, project string, enabled bool) flags.Feature {
	return flags.Feature{Name: name, Project: project, Enabled: enabled, Strategies: []flags.Strategy{{Name: "default", Variants: []flags.Variant{}}}}
}

// featureNames returns the names of the features published for env.
func featureNames(s *flags.Store, env string) []string {
	snap := s.Environments()[env]
	if snap == nil {
		return nil
	}
	var out []string
	for _, f := range snap.Plan.Source().Features {
		out = append(out, f.Name)
	}
	return out
}

func enabledIn(s *flags.Store, env, name string) (enabled, found bool) {
	snap := s.Environments()[env]
	if snap == nil {
		return false, false
	}
	for _, f := range snap.Plan.Source().Features {
		if f.Name == name {
			return f.Enabled, true
		}
	}
	return false, false
}

// memPersister is an in-memory flags.Persister.
type memPersister struct {
	mu      sync.Mutex
	state   *flags.PersistedState
	loadErr error
	saves   int
}

func (p *memPersister) Load(context.Context) (*flags.PersistedState, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state, p.loadErr
}

func (p *memPersister) Save(_ context.Context, st *flags.PersistedState) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.state = st
	p.saves++
	return nil
}

func (p *memPersister) saved() (*flags.PersistedState, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state, p.saves
}

var _ flags.Persister = (*memPersister)(nil)

// newTestClient returns a client of f with short timeouts.
func newTestClient(t testing.TB, url string, mod func(*ClientConfig)) *Client {
	t.Helper()
	cfg := ClientConfig{URL: url, RequestTimeout: time.Second, SocketTimeout: 2 * time.Second, Version: "1.2.3", Logger: testLogger(t)}
	if mod != nil {
		mod(&cfg)
	}
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

func writeTemp(t testing.TB, name string, data []byte) string {
	t.Helper()
	p := t.TempDir() + "/" + name
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
