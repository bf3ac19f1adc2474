package api

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/brink-edge/brink/flags"
)

// Variations of testFlags, each one change away from it.
var (
	flagsAlphaOff = strings.Replace(testFlags, `{"name":"alpha","enabled":true`, `{"name":"alpha","enabled":false`, 1)
	flagsGammaOff = strings.Replace(testFlags, `{"name":"gamma","enabled":true`, `{"name":"gamma","enabled":false`, 1)
)

// deltaSummary is "type:name" of each event, as in the flags tests.
func deltaSummary(t testing.TB, data []byte) string {
	t.Helper()
	d, err := flags.DecodeClientFeaturesDelta(data)
	if err != nil {
		t.Fatalf("%v: %s", err, data)
	}
	var out []string
	for _, e := range d.Events {
		switch e.Type {
		case flags.DeltaFeatureUpdated:
			out = append(out, e.Type+":"+e.Feature.Name)
		case flags.DeltaFeatureRemoved:
			out = append(out, e.Type+":"+e.FeatureName)
		case flags.DeltaHydration:
			var names []string
			for _, f := range e.Features {
				names = append(names, f.Name)
			}
			out = append(out, "hydration:"+strings.Join(names, ","))
		default:
			out = append(out, e.Type)
		}
	}
	return strings.Join(out, " ")
}

func TestDelta(t *testing.T) {
	store := new(flags.Store)
	store.EventLogSize = 2
	store.Publish("", compile(t, testFlags), "test")
	s := newTestServer(t, Config{Store: store})
	all := "hydration:alpha,beta,gamma,ip,prefix.one,prop,users,variant"
	get := func(token string, headers ...string) *fasthttp.Response {
		return s.do(req{uri: "/api/client/delta", token: token, headers: headers})
	}
	check := func(name string, resp *fasthttp.Response, status int, etag int, events string) {
		t.Helper()
		if resp.StatusCode() != status {
			t.Fatalf("%s: status %d %s, want %d", name, resp.StatusCode(), resp.Body(), status)
		}
		if got := string(resp.Header.Peek("ETag")); got != strconv.Itoa(etag) {
			t.Errorf("%s: ETag %q, want %d", name, got, etag)
		}
		if status == 200 && len(resp.Header.ContentEncoding()) == 0 {
			if got := deltaSummary(t, resp.Body()); got != events {
				t.Errorf("%s: events %s, want %s", name, got, events)
			}
		}
	}
	first := store.Events("development").LastID()
	check("no If-None-Match", get(tokClient), 200, first, all)
	check("current", get(tokClient, "If-None-Match", strconv.Itoa(first)), 304, first, "")
	check("current quoted", get(tokClient, "If-None-Match", `"`+strconv.Itoa(first)+`"`), 304, first, "")
	check("unparsable", get(tokClient, "If-None-Match", `"abc"`), 200, first, all)
	check("from another run", get(tokClient, "If-None-Match", strconv.Itoa(first+100)), 200, first, all)
	check("project filter hydration", get(tokClientOther), 200, first, "hydration:gamma")
	check("namePrefix", s.do(req{uri: "/api/client/delta?namePrefix=prefix.", token: tokClient}), 200, first, "hydration:prefix.one")

	store.Publish("", compile(t, flagsAlphaOff), "test")
	check("one change", get(tokClient, "If-None-Match", strconv.Itoa(first)), 200, first+1, "feature-updated:alpha")
	check("change outside the token's projects", get(tokClientOther, "If-None-Match", strconv.Itoa(first)), 304, first+1, "")
	resp := get(tokClient, "If-None-Match", strconv.Itoa(first), "Accept-Encoding", "gzip")
	check("gzip", resp, 200, first+1, "")
	if string(resp.Header.ContentEncoding()) != "gzip" {
		t.Errorf("delta not compressed: %q", resp.Header.ContentEncoding())
	} else if body, err := resp.BodyGunzip(); err != nil || deltaSummary(t, body) != "feature-updated:alpha" {
		t.Errorf("gzip delta: %v %s", err, body)
	}

	store.Publish("", compile(t, flagsGammaOff), "test") // alpha back on, gamma off
	check("two changes", get(tokClient, "If-None-Match", strconv.Itoa(first+1)), 200, first+3, "feature-updated:alpha feature-updated:gamma")
	check("two changes, one seen", get(tokClient, "If-None-Match", strconv.Itoa(first+2)), 200, first+3, "feature-updated:gamma")
	check("filtered", get(tokClientOther, "If-None-Match", strconv.Itoa(first+1)), 200, first+3, "feature-updated:gamma")
	check("just dropped from the ring", get(tokClient, "If-None-Match", strconv.Itoa(first)), 200, first+3, all)

	store.Publish("", compile(t, testFlags), "test") // gamma back on: first+4, the ring drops first+1 and first+2
	check("older than the ring", get(tokClient, "If-None-Match", strconv.Itoa(first)), 200, first+4, all)
	check("oldest kept", get(tokClient, "If-None-Match", strconv.Itoa(first+2)), 200, first+4, "feature-updated:gamma feature-updated:gamma")

	for name, r := range map[string]req{
		"frontend token":     {uri: "/api/client/delta", token: tokFront},
		"no token":           {uri: "/api/client/delta"},
		"streaming frontend": {uri: "/api/client/streaming", token: tokFront},
	} {
		if got := s.do(r).StatusCode(); got != 403 {
			t.Errorf("%s: %d, want 403", name, got)
		}
	}
	if got := s.do(req{method: "POST", uri: "/api/client/delta", token: tokClient}).StatusCode(); got != 405 {
		t.Errorf("POST delta: %d, want 405", got)
	}
}

// sseServer runs h on a real fasthttp server on 127.0.0.1.
type sseServer struct {
	t     *testing.T
	h     *Handler
	url   string
	store *flags.Store
}

func newSSEServer(t *testing.T, cfg Config) *sseServer {
	t.Helper()
	if cfg.Store == nil {
		cfg.Store = new(flags.Store)
		cfg.Store.Publish("", compile(t, testFlags), "test")
	}
	if cfg.Tokens == nil {
		cfg.Tokens = testTokens()
	}
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// A short WriteTimeout proves that streams outlive it.
	srv := &fasthttp.Server{Handler: h.Handle, WriteTimeout: 300 * time.Millisecond}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		h.CloseStreams()
		_ = srv.Shutdown()
	})
	return &sseServer{t: t, h: h, url: "http://" + ln.Addr().String(), store: cfg.Store}
}

// get returns the body of a GET without token.
func (s *sseServer) get(uri string) string {
	s.t.Helper()
	resp, err := http.Get(s.url + uri)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// sseEvent is one event (or comment) read from a stream.
type sseEvent struct {
	event, id, data, comment string
}

// sseClient reads a stream.
type sseClient struct {
	t    *testing.T
	resp *http.Response
	r    *bufio.Reader
	ch   chan sseEvent
	err  chan error
}

func (s *sseServer) connect(token string, headers ...string) *sseClient {
	s.t.Helper()
	c, status := s.open(token, headers...)
	if status != 200 {
		s.t.Fatalf("stream answered %d", status)
	}
	return c
}

// open starts a stream request and returns the client (nil unless 200)
// and the status.
func (s *sseServer) open(token string, headers ...string) (*sseClient, int) {
	s.t.Helper()
	rq, _ := http.NewRequest("GET", s.url+"/api/client/streaming", nil)
	rq.Header.Set("Authorization", token)
	for i := 0; i+1 < len(headers); i += 2 {
		rq.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultTransport.RoundTrip(rq)
	if err != nil {
		s.t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		_ = resp.Body.Close()
		return nil, resp.StatusCode
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		s.t.Errorf("Content-Type %q", ct)
	}
	c := &sseClient{t: s.t, resp: resp, r: bufio.NewReader(resp.Body), ch: make(chan sseEvent, 16), err: make(chan error, 1)}
	go c.read()
	s.t.Cleanup(c.close)
	return c, 200
}

func (c *sseClient) read() {
	var ev sseEvent
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			c.err <- err
			close(c.ch)
			return
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			c.ch <- ev
			ev = sseEvent{}
		case strings.HasPrefix(line, ":"):
			ev.comment = strings.TrimSpace(line[1:])
		case strings.HasPrefix(line, "event: "):
			ev.event = line[len("event: "):]
		case strings.HasPrefix(line, "id: "):
			ev.id = line[len("id: "):]
		case strings.HasPrefix(line, "data: "):
			ev.data = line[len("data: "):]
		default:
			c.err <- errors.New("unexpected line " + strconv.Quote(line))
			close(c.ch)
			return
		}
	}
}

func (c *sseClient) close() { _ = c.resp.Body.Close() }

// next returns the next event that is not a keep-alive comment.
func (c *sseClient) next() sseEvent {
	c.t.Helper()
	for {
		ev := c.nextAny()
		if ev.comment == "" {
			return ev
		}
	}
}

// nextAny returns the next event or comment.
func (c *sseClient) nextAny() sseEvent {
	c.t.Helper()
	select {
	case ev, ok := <-c.ch:
		if !ok {
			c.t.Fatalf("stream ended: %v", <-c.err)
		}
		return ev
	case <-time.After(5 * time.Second):
		c.t.Fatal("no event within 5s")
	}
	return sseEvent{}
}

// ended waits for the server to end the stream.
func (c *sseClient) ended(within time.Duration) bool {
	deadline := time.After(within)
	for {
		select {
		case _, ok := <-c.ch:
			if !ok {
				err := <-c.err
				return errors.Is(err, io.EOF) || err != nil
			}
		case <-deadline:
			return false
		}
	}
}

func (c *sseClient) expect(ev sseEvent, event string, id int, events string) {
	c.t.Helper()
	if ev.event != event || ev.id != strconv.Itoa(id) {
		c.t.Fatalf("got event %q id %q, want %q id %d", ev.event, ev.id, event, id)
	}
	if got := deltaSummary(c.t, []byte(ev.data)); got != events {
		c.t.Fatalf("%s events: %s, want %s", event, got, events)
	}
}

func TestStreaming(t *testing.T) {
	s := newSSEServer(t, Config{StreamKeepAlive: time.Hour})
	log := s.store.Events("development")
	first := log.LastID()
	all := "hydration:alpha,beta,gamma,ip,prefix.one,prop,users,variant"

	c := s.connect(tokClient)
	c.expect(c.next(), "unleash-connected", first, all)
	other := s.connect(tokClientOther)
	other.expect(other.next(), "unleash-connected", first, "hydration:gamma")
	if n := s.h.Streams(); n != 2 {
		t.Errorf("Streams() = %d, want 2", n)
	}

	s.store.Publish("", compile(t, flagsAlphaOff), "test")
	c.expect(c.next(), "unleash-updated", first+1, "feature-updated:alpha")
	s.store.Publish("", compile(t, flagsGammaOff), "test")
	c.expect(c.next(), "unleash-updated", first+3, "feature-updated:alpha feature-updated:gamma")
	// The other project's client saw nothing of alpha.
	other.expect(other.next(), "unleash-updated", first+3, "feature-updated:gamma")

	// Reconnecting with Last-Event-ID gets only what was missed.
	c.close()
	s.store.Publish("", compile(t, testFlags), "test")
	other.expect(other.next(), "unleash-updated", first+4, "feature-updated:gamma")
	c = s.connect(tokClient, "Last-Event-ID", strconv.Itoa(first+3))
	c.expect(c.next(), "unleash-connected", first+4, "feature-updated:gamma")
	c.close()
	c = s.connect(tokClient, "Last-Event-ID", strconv.Itoa(first+4))
	ev := c.next()
	if ev.event != "unleash-connected" || ev.data != `{"events":[]}` {
		t.Errorf("up-to-date reconnect: %+v", ev)
	}
	// An id the log no longer holds (or never held) gets a hydration.
	for _, id := range []string{strconv.Itoa(first - 1), strconv.Itoa(first + 1000), "junk"} {
		h := s.connect(tokClient, "Last-Event-ID", id)
		h.expect(h.next(), "unleash-connected", first+4, all)
		h.close()
	}

	// HEAD answers the headers only.
	rq, _ := http.NewRequest("HEAD", s.url+"/api/client/streaming", nil)
	rq.Header.Set("Authorization", tokClient)
	resp, err := http.DefaultClient.Do(rq)
	if err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Errorf("HEAD: %v %v", resp, err)
	}
	if resp != nil {
		_ = resp.Body.Close()
	}

	// The environment getting its own state switches the stream to it
	// with a hydration.
	s.store.Publish("development", compile(t, flagsAlphaOff), "test")
	dev := s.store.Events("development")
	c.expect(c.next(), "unleash-updated", dev.LastID(), all)
	other.expect(other.next(), "unleash-updated", dev.LastID(), "hydration:gamma")
	s.store.Publish("development", compile(t, testFlags), "test")
	c.expect(c.next(), "unleash-updated", dev.LastID(), "feature-updated:alpha")
}

func TestStreamKeepAliveAndInvalidation(t *testing.T) {
	tokens := testTokens()
	const tok = "*:development.revoked"
	tokens.Add(flags.Token{Raw: tok, Type: flags.TokenClient, Environment: "development", Projects: []string{"*"}, Status: flags.TokenValidated})
	s := newSSEServer(t, Config{Tokens: tokens, StreamKeepAlive: 50 * time.Millisecond})
	c := s.connect(tok)
	if ev := c.nextAny(); ev.event != "unleash-connected" {
		t.Fatalf("first event %+v", ev)
	}
	// Past the server's WriteTimeout too.
	for start := time.Now(); time.Since(start) < 600*time.Millisecond; {
		if ev := c.nextAny(); ev.comment != "keep-alive" || ev.event != "" || ev.data != "" {
			t.Fatalf("want a keep-alive comment, got %+v", ev)
		}
	}
	// Revalidation turned the token invalid: the next keep-alive ends the
	// stream, and the token gets 403 from then on.
	tokens.Add(flags.Token{Raw: tok, Type: flags.TokenClient, Environment: "development", Projects: []string{"*"}, Status: flags.TokenInvalid})
	if !c.ended(2 * time.Second) {
		t.Fatal("stream of an invalidated token still open")
	}
	if _, status := s.open(tok); status != 403 {
		t.Errorf("invalid token reconnect: %d, want 403", status)
	}

	// Invalidation is also noticed on an event, and a token leaving the
	// cache counts as invalid.
	s2 := newSSEServer(t, Config{Tokens: tokens, StreamKeepAlive: time.Hour})
	const tok2 = "*:development.dropped"
	tokens.Add(flags.Token{Raw: tok2, Type: flags.TokenClient, Environment: "development", Projects: []string{"*"}, Status: flags.TokenValidated})
	c = s2.connect(tok2)
	c.next()
	tokens.Remove(tok2)
	s2.store.Publish("", compile(t, flagsAlphaOff), "test")
	if !c.ended(2 * time.Second) {
		t.Fatal("stream of a dropped token still open after an event")
	}
	waitStreams(t, s2.h, 0)
}

// waitStreams waits until h counts n open streams.
func waitStreams(t *testing.T, h *Handler, n int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for h.Streams() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d open streams, want %d", h.Streams(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestStreamLimitsAndShutdown(t *testing.T) {
	s := newSSEServer(t, Config{MaxStreams: 2, StreamKeepAlive: 20 * time.Millisecond})
	a := s.connect(tokClient)
	b := s.connect(tokClientOther)
	a.next()
	b.next()
	before := streamsRejected.Get()
	if _, status := s.open(tokClient); status != 503 {
		t.Fatalf("stream beyond MaxStreams: %d, want 503", status)
	}
	if streamsRejected.Get() != before+1 {
		t.Error("rejected stream not counted")
	}
	if body := s.get("/internal-backstage/instancedata"); !strings.Contains(body, `"connectedStreamingClients":2`) {
		t.Errorf("instance data: %s", body)
	}
	if body := s.get("/internal-backstage/metrics"); !strings.Contains(body, "\nbrink_streaming_clients ") {
		t.Errorf("no brink_streaming_clients gauge in the metrics")
	}
	// A client leaving frees its slot (noticed on the next keep-alive).
	a.close()
	waitStreams(t, s.h, 1)
	c := s.connect(tokClient)
	c.next()

	// Removing the environment ends its streams.
	store := new(flags.Store)
	store.Publish("development", compile(t, testFlags), "test")
	s2 := newSSEServer(t, Config{Store: store, StreamKeepAlive: time.Hour})
	d := s2.connect(tokClient)
	d.next()
	store.Remove("development")
	if !d.ended(2 * time.Second) {
		t.Fatal("stream still open after its environment was removed")
	}

	// CloseStreams ends the others and refuses new ones.
	s.h.CloseStreams()
	if !b.ended(2*time.Second) || !c.ended(2*time.Second) {
		t.Fatal("streams still open after CloseStreams")
	}
	waitStreams(t, s.h, 0)
	if _, status := s.open(tokClient); status != 503 {
		t.Errorf("stream after CloseStreams: %d, want 503", status)
	}
}

// TestStreamSlowClient fills the buffers of a client that never reads and
// checks that it is disconnected after StreamWriteTimeout.
func TestStreamSlowClient(t *testing.T) {
	big := [2]*flags.Plan{flags.Compile(flags.GenerateDataset(3000, 1)), flags.Compile(flags.GenerateDataset(3000, 2))}
	store := new(flags.Store)
	store.Publish("", big[0], "test")
	s := newSSEServer(t, Config{Store: store, StreamWriteTimeout: 200 * time.Millisecond, StreamKeepAlive: time.Hour})
	conn, err := net.Dial("tcp4", strings.TrimPrefix(s.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.(*net.TCPConn).SetReadBuffer(4096)
	if _, err := io.WriteString(conn, "GET /api/client/streaming HTTP/1.1\r\nHost: x\r\nAuthorization: "+tokClient+"\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	waitStreams(t, s.h, 1)
	before := streamsSlow.Get()
	deadline := time.Now().Add(10 * time.Second)
	for i := 1; s.h.Streams() > 0; i++ {
		if time.Now().After(deadline) {
			t.Fatal("a client that never reads is still connected")
		}
		store.Publish("", big[i%2], "test")
		time.Sleep(20 * time.Millisecond)
	}
	if streamsSlow.Get() <= before {
		t.Error("slow disconnect not counted")
	}
}
