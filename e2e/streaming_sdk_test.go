package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestStreamingSDK runs the official Node server SDK (npm unleash-client)
// in its two live modes against brink in offline mode with a reloaded
// bootstrap file (-r 1):
//
//   - streaming: experimentalMode {type: 'streaming'}, GET
//     /api/client/streaming (server-sent events);
//   - delta: experimentalMode {type: 'polling', format: 'delta'}, GET
//     /api/client/delta with If-None-Match.
//
// In each, the SDK must synchronise and answer isEnabled as the file says;
// then the file is replaced (temp + rename) with one where a flag is
// flipped, one added and one removed, and the SDK must see all three
// within 10 s: over the open stream, as unleash-updated events, with no
// other request (brink's brink_streaming_clients and
// brink_streaming_events_sent_total agree), or through delta answers to
// its If-None-Match polls. Then brink is stopped (SIGTERM), the file is
// changed again, and a new brink is started on the same port: the SDK
// must reconnect by itself, resuming from the last event id it saw
// (Last-Event-ID, If-None-Match), and pick up that state. The restart is
// timed so that the new brink's first event id is that very id (see
// restartAt), the case where an id of the old run can be mistaken for one
// of the new.
func TestStreamingSDK(t *testing.T) {
	node := needNode(t)
	for _, mode := range []string{"streaming", "delta"} {
		t.Run(mode, func(t *testing.T) { testLiveSDK(t, node, mode) })
	}
}

// Bounds of the live tests.
const (
	liveSyncLimit    = 10 * time.Second // SDK start to synchronized
	liveChangeLimit  = 10 * time.Second // file replaced to the SDK seeing it
	liveRestartLimit = 25 * time.Second // brink restarted to the SDK resynced
)

// liveFlags are the flags the SDK reports on; "absent" is a flag it has
// no definition of.
var liveFlags = []string{"live-on", "live-off", "live-flip", "live-gone", "live-new", "live-segment"}

// liveVersion is one version of the bootstrap file: the enabled flag of
// each feature it has (absent ones are not in the file).
type liveVersion map[string]bool

var (
	// liveV1 is the file brink starts with.
	liveV1 = liveVersion{"live-on": true, "live-off": false, "live-flip": true, "live-gone": true, "live-segment": true}
	// liveV2 flips live-flip, adds live-new and removes live-gone; it also
	// adds the liveExtra flags (see restartAt).
	liveV2 = withExtra(liveVersion{"live-on": true, "live-off": false, "live-flip": false, "live-new": true, "live-segment": true})
	// liveV3 is what the restarted brink serves: live-off and live-flip on.
	liveV3 = withExtra(liveVersion{"live-on": true, "live-off": true, "live-flip": true, "live-new": true, "live-segment": true})
)

// liveExtra flags are added by liveV2 besides live-new, so that the first
// brink logs enough events for restartAt to find its moment on a slow
// machine too; the SDK's state does not track them.
const liveExtra = 3

func withExtra(v liveVersion) liveVersion {
	for i := 1; i <= liveExtra; i++ {
		v["live-extra-"+strconv.Itoa(i)] = true
	}
	return v
}

// state is what the SDK must answer for v: "on"/"off"/"absent" by flag.
// Every flag is on for the SDK's context when enabled (live-segment's
// segment matches it).
func (v liveVersion) state() map[string]string {
	m := map[string]string{}
	for _, name := range liveFlags {
		switch on, ok := v[name]; {
		case !ok:
			m[name] = "absent"
		case on:
			m[name] = "on"
		default:
			m[name] = "off"
		}
	}
	return m
}

// json is the bootstrap file of v: a default strategy per flag, and
// live-segment behind a segment matching userId streaming-e2e (the
// context of e2e/node/streaming-sdk.js).
func (v liveVersion) json(t *testing.T) []byte {
	t.Helper()
	names := make([]string, 0, len(v))
	for n := range v {
		names = append(names, n)
	}
	sort.Strings(names)
	features := make([]map[string]any, 0, len(names))
	for _, n := range names {
		strategy := map[string]any{"name": "default", "parameters": map[string]any{}, "constraints": []any{}}
		if n == "live-segment" {
			strategy["segments"] = []int{1}
		}
		features = append(features, map[string]any{
			"name": n, "type": "release", "project": "default", "enabled": v[n], "stale": false,
			"impressionData": false, "strategies": []any{strategy}, "variants": []any{},
		})
	}
	raw, err := json.MarshalIndent(map[string]any{
		"version":  2,
		"features": features,
		"segments": []any{map[string]any{
			"id": 1, "name": "live-users",
			"constraints": []any{map[string]any{
				"contextName": "userId", "operator": "IN", "values": []string{"streaming-e2e"},
				"inverted": false, "caseInsensitive": false,
			}},
		}},
	}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// writeAtomic replaces path with data: a temporary file in the same
// folder, renamed over it, so that brink never reads half a file.
func writeAtomic(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp, err := os.CreateTemp(filepath.Dir(path), ".features-*.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		t.Fatal(err)
	}
	if err := tmp.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		t.Fatal(err)
	}
}

func testLiveSDK(t *testing.T, node, mode string) {
	file := filepath.Join(t.TempDir(), "features.json")
	writeAtomic(t, file, liveV1.json(t))
	b1 := startBrinkWith(t, brinkOptions{bootstrap: file, args: []string{"-r", "1"}})

	sdk := startLiveSDK(t, node, map[string]any{
		"url":        b1.url + "/api/",
		"token":      clientToken,
		"appName":    "brink-e2e-live-" + mode,
		"instanceId": "brink-e2e-live-" + mode + "-1",
		"mode":       mode,
		"flags":      liveFlags,
		"refreshMs":  250,
		"timeoutMs":  120000,
	})

	// 1. Synchronised, with the file's answers.
	began := time.Now()
	sdk.waitFor(t, 0, liveSyncLimit, "SDK synchronized", func(l sdkLine) bool { return l.Type == "synchronized" })
	sdk.waitState(t, 0, liveSyncLimit, "SDK state of the first file", liveV1.state())
	t.Logf("%s: synchronized in %v", mode, time.Since(began).Round(time.Millisecond))

	var eventsBefore float64
	switch mode {
	case "streaming":
		conn := sdk.requests("/api/client/streaming")
		if len(conn) != 1 || conn[0].Status != http.StatusOK {
			t.Fatalf("streaming: want one GET /api/client/streaming answered 200, got %s\nSDK log:\n%s", describe(conn), sdk.dump())
		}
		hello := sdk.sse("unleash-connected", 0)
		if len(hello) != 1 || len(hello[0].Events) != 1 || hello[0].Events[0].Type != "hydration" {
			t.Fatalf("streaming: want one unleash-connected event holding one hydration, got %s\nSDK log:\n%s", jsonString(hello), sdk.dump())
		}
		eventually(t, 5*time.Second, "brink_streaming_clients >= 1 while the SDK is connected", func() bool {
			return promSample(t, b1, "brink_streaming_clients") >= 1
		})
		eventsBefore = promSample(t, b1, "brink_streaming_events_sent_total")
	case "delta":
		d := sdk.requests("/api/client/delta")
		if len(d) == 0 || d[0].Status != http.StatusOK || d[0].IfNoneMatch != "" || d[0].Etag == "" {
			t.Fatalf("delta: want a first GET /api/client/delta without If-None-Match answered 200 with an ETag, got %s\nSDK log:\n%s", describe(d), sdk.dump())
		}
	}

	// 2. The file changes: flip live-flip, add live-new, remove live-gone.
	mark := sdk.mark()
	changed := time.Now()
	writeAtomic(t, file, liveV2.json(t))
	sdk.waitState(t, mark, liveChangeLimit, "SDK state after the file changed (live-flip off, live-new added, live-gone removed)", liveV2.state())
	t.Logf("%s: the SDK saw the change %v after the file was replaced (reload interval 1 s)", mode, time.Since(changed).Round(time.Millisecond))
	after := sdk.since(mark)
	switch mode {
	case "streaming":
		if rs := linesOf(after, "request"); len(rs) > 0 {
			t.Errorf("streaming: the SDK made requests while it should have been listening to its stream: %s", describe(sdk.requestsIn(after, "")))
		}
		var got []string
		for _, l := range after {
			if l.Type == "sse" {
				if l.Event != "unleash-updated" {
					t.Errorf("streaming: unexpected %s event after the change: %s", l.Event, jsonString(l))
				}
				for _, e := range l.Events {
					got = append(got, e.Type+" "+e.Name)
				}
			}
		}
		for _, want := range []string{"feature-updated live-flip", "feature-updated live-new", "feature-removed live-gone"} {
			if !slices.Contains(got, want) {
				t.Errorf("streaming: no %q among the unleash-updated events the SDK received (%q)", want, got)
			}
		}
		if n := promSample(t, b1, "brink_streaming_events_sent_total") - eventsBefore; n < 3 {
			t.Errorf("streaming: brink_streaming_events_sent_total grew by %v during the change, want >= 3", n)
		}
		if n := promSample(t, b1, "brink_streaming_clients"); n < 1 {
			t.Errorf("streaming: brink_streaming_clients is %v with the SDK connected, want >= 1", n)
		}
	case "delta":
		checkDeltaChange(t, b1, sdk, after)
	}
	if bad := sdk.problems(0); len(bad) > 0 {
		t.Errorf("%s: SDK warnings or errors before the restart:\n  %s", mode, strings.Join(bad, "\n  "))
	}
	lastSeen := sdk.lastEventID(mode)

	// 3. brink restarts on the same port with another file; the SDK must
	// reconnect and resync by itself. The restart comes at the second
	// restartAt picks; the first brink stops half a second before.
	at := restartAt(t, mode, lastSeen)
	if !at.IsZero() {
		time.Sleep(time.Until(at.Add(-500 * time.Millisecond)))
	}
	b1.Stop(t)
	// b1's cleanup has nothing more to log; log it here when a later step
	// fails (b2's own cleanup logs b2).
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("first brink's log (stopped for the restart):\n%s", b1.log.String())
		}
	})
	mark = sdk.mark()
	writeAtomic(t, file, liveV3.json(t))
	if !at.IsZero() {
		time.Sleep(time.Until(at))
	}
	restarted := time.Now()
	b2 := startBrinkWith(t, brinkOptions{bootstrap: file, port: b1.port, args: []string{"-r", "1"}})
	_, hdr, _ := getWith(t, b2.url+"/api/client/delta", map[string]string{"Authorization": clientToken})
	newLast := hdr.Get("ETag")
	t.Logf("%s: brink restarted; the SDK last saw event id %s, the new brink's last event id is %s", mode, lastSeen, newLast)
	if _, err := sdk.tryWaitState(mark, liveRestartLimit, liveV3.state()); err != nil {
		t.Fatalf("%s: the SDK did not resync after brink restarted with a changed file (live-off and live-flip on): %v\n%s\nSDK log:\n%s",
			mode, err, diagnoseRestart(t, b2, sdk, mode, mark, lastSeen, newLast), sdk.dump())
	}
	t.Logf("%s: the SDK resynced %v after the restart", mode, time.Since(restarted).Round(time.Millisecond))
	after = sdk.since(mark)
	switch mode {
	case "streaming":
		conns := sdk.requestsIn(after, "/api/client/streaming")
		if !slices.ContainsFunc(conns, func(r liveRequest) bool { return r.Status == http.StatusOK }) {
			t.Errorf("streaming: no GET /api/client/streaming answered 200 after the restart: %s", describe(conns))
		}
		if other := sdk.requestsIn(after, ""); len(other) != len(conns) {
			t.Errorf("streaming: the SDK made other requests than /api/client/streaming after the restart: %s", describe(other))
		}
		eventually(t, 5*time.Second, "brink_streaming_clients >= 1 on the restarted brink", func() bool {
			return promSample(t, b2, "brink_streaming_clients") >= 1
		})
	case "delta":
		d := sdk.requestsIn(after, "/api/client/delta")
		if !slices.ContainsFunc(d, func(r liveRequest) bool { return r.Status == http.StatusOK }) {
			t.Errorf("delta: no GET /api/client/delta answered 200 after the restart: %s", describe(d))
		}
		if other := sdk.requestsIn(after, ""); len(other) != len(d) {
			t.Errorf("delta: the SDK made other requests than /api/client/delta after the restart: %s", describe(other))
		}
	}
	if modes := linesOf(sdk.since(0), "mode"); len(modes) > 0 {
		t.Errorf("%s: the SDK switched modes: %s", mode, jsonString(modes))
	}
	for _, p := range sdk.problems(mark) {
		// Connection errors while brink was down are expected; what the
		// SDK could not process is not.
		if strings.Contains(p, "re-hydration") || strings.Contains(p, "Unknown event type") {
			t.Errorf("%s: after the restart: %s", mode, p)
		}
	}
	sdk.quit(t)
	if t.Failed() {
		t.Logf("SDK log:\n%s", sdk.dump())
	}
}

// checkDeltaChange checks that the delta SDK got the change from
// /api/client/delta: after the file changed, it polled only there, one
// answer was 200 to an If-None-Match of the ETag it had, and that request,
// sent again, is answered with the three changes as delta events (not a
// hydration) and the ETag the SDK got.
func checkDeltaChange(t *testing.T, b *brink, sdk *liveSDK, after []sdkLine) {
	t.Helper()
	all := sdk.requestsIn(after, "")
	d := sdk.requestsIn(after, "/api/client/delta")
	if len(all) != len(d) {
		t.Errorf("delta: the SDK made other requests than /api/client/delta: %s", describe(all))
	}
	i := slices.IndexFunc(d, func(r liveRequest) bool { return r.Status == http.StatusOK })
	if i < 0 {
		t.Fatalf("delta: no GET /api/client/delta answered 200 after the change: %s", describe(d))
	}
	got := d[i]
	if got.IfNoneMatch == "" {
		t.Fatalf("delta: the poll that brought the change had no If-None-Match: %s", describe(d))
	}
	// Nothing changes now: the next polls carry the new ETag and get 304.
	sdk.waitFor(t, 0, 5*time.Second, "delta: a poll answered 304 with ETag "+got.Etag, func(l sdkLine) bool {
		return l.Type == "response" && l.Stat == http.StatusNotModified && l.Etag == got.Etag
	})
	status, hdr, body := getWith(t, b.url+"/api/client/delta", map[string]string{"Authorization": clientToken, "If-None-Match": got.IfNoneMatch})
	if status != http.StatusOK || hdr.Get("ETag") != got.Etag {
		t.Fatalf("delta: GET /api/client/delta If-None-Match %s again: %d ETag %q, want 200 ETag %q (what the SDK got); body %s", got.IfNoneMatch, status, hdr.Get("ETag"), got.Etag, body)
	}
	var resp struct {
		Events []struct {
			Type        string `json:"type"`
			FeatureName string `json:"featureName"`
			Feature     struct {
				Name string `json:"name"`
			} `json:"feature"`
		} `json:"events"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		t.Fatalf("delta: %v: %s", err, body)
	}
	var names []string
	for _, e := range resp.Events {
		names = append(names, e.Type+" "+e.Feature.Name+e.FeatureName)
	}
	sort.Strings(names)
	want := []string{"feature-removed live-gone", "feature-updated live-flip", "feature-updated live-new"}
	for i := 1; i <= liveExtra; i++ {
		want = append(want, "feature-updated live-extra-"+strconv.Itoa(i))
	}
	sort.Strings(want)
	if !slices.Equal(names, want) {
		t.Errorf("delta: the answer to If-None-Match %s holds %q, want the changes %q", got.IfNoneMatch, names, want)
	}
}

// restartAt is when the test restarts brink: the moment at which a brink
// started then numbers its first event lastSeen, the id the SDK resumes
// from, when that is still ahead (else the zero time: at once). brink
// numbers events from the Unix time of its first load (plus one), so a
// restart that many seconds after the first start is when the new brink's
// ids meet the old ones. Restarting then, not whenever the test gets
// there, keeps the outcome from depending on the second the restart
// happens to fall in.
func restartAt(t *testing.T, mode, lastSeen string) time.Time {
	t.Helper()
	id, err := strconv.ParseInt(lastSeen, 10, 64)
	if err != nil {
		t.Fatalf("%s: the SDK's last event id %q is not a number", mode, lastSeen)
	}
	at := time.Unix(id-1, 20*int64(time.Millisecond))
	if d := time.Until(at); d < 600*time.Millisecond || d > 30*time.Second {
		t.Logf("%s: restart not aligned with the event ids (the moment is %v away)", mode, d.Round(time.Millisecond))
		return time.Time{}
	}
	return at
}

// getWith is a GET with headers, bounded to 10 s.
func getWith(t *testing.T, url string, headers map[string]string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, resp.Header, body
}

// promSample is one sample of brink's /internal-backstage/metrics (0 when
// absent).
func promSample(t *testing.T, b *brink, series string) float64 {
	t.Helper()
	status, body := httpDo(t, http.MethodGet, b.url+"/internal-backstage/metrics", "", nil)
	if status != http.StatusOK {
		t.Fatalf("/internal-backstage/metrics: %d", status)
	}
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			var f float64
			if _, err := fmt.Sscan(v, &f); err != nil {
				t.Fatalf("metric %s: %q", series, line)
			}
			return f
		}
	}
	return 0
}

// diagnoseRestart says what happened after the restart when the SDK did
// not resync: the SDK's requests and what brink answered, the SSE events
// it got, the SDK's state, and brink's answer to its resume id asked
// directly.
func diagnoseRestart(t *testing.T, b *brink, sdk *liveSDK, mode string, mark int, lastSeen, newLast string) string {
	t.Helper()
	var w strings.Builder
	after := sdk.since(mark)
	fmt.Fprintf(&w, "the SDK resumes from event id %s; the restarted brink's last event id is %s (it serves another flag state)", lastSeen, newLast)
	fmt.Fprintf(&w, "\nthe SDK's requests since the restart:%s", describe(sdk.requestsIn(after, "")))
	for _, l := range linesOf(after, "sse") {
		fmt.Fprintf(&w, "\nSSE %s id %s with %d event(s) %s", l.Event, l.LEID, len(l.Events), jsonString(l.Events))
	}
	fmt.Fprintf(&w, "\nthe SDK's state: %s, want %s", jsonString(sdk.currentState()), jsonString(liveV3.state()))
	status, hdr, body := getWith(t, b.url+"/api/client/delta", map[string]string{"Authorization": clientToken, "If-None-Match": lastSeen})
	fmt.Fprintf(&w, "\nGET /api/client/delta If-None-Match %s on the restarted brink: %d ETag %q body %q", lastSeen, status, hdr.Get("ETag"), tail(string(body), 300))
	if status == http.StatusNotModified || (mode == "streaming" && slices.ContainsFunc(linesOf(after, "sse"), func(l sdkLine) bool {
		return l.Event == "unleash-connected" && len(l.Events) == 0
	})) {
		fmt.Fprintf(&w, "\n=> brink took event id %s, issued by the brink before the restart, for one of its own and answered \"nothing changed\" instead of a hydration", lastSeen)
	}
	return w.String()
}

// sdkLine is one line of e2e/node/streaming-sdk.js.
type sdkLine struct {
	T     int    `json:"t"`
	Type  string `json:"type"`
	ID    int    `json:"id"`
	Meth  string `json:"method"`
	Path  string `json:"path"`
	LEID  string `json:"lastEventId"`
	INM   string `json:"ifNoneMatch"`
	Stat  int    `json:"status"`
	Etag  string `json:"etag"`
	Err   string `json:"error"`
	Event string `json:"event"`
	// Events of an sse line.
	Events []struct {
		EventID int    `json:"eventId"`
		Type    string `json:"type"`
		Name    string `json:"name"`
	} `json:"events"`
	ParseError string            `json:"parseError"`
	State      map[string]string `json:"state"`
	Message    string            `json:"message"`
	Failure    string            `json:"failure"`
	raw        string
}

// liveRequest is one request of the SDK with its answer.
type liveRequest struct {
	Method, Path, LastEventID, IfNoneMatch string
	Status                                 int
	Etag, Error                            string
}

// describe lists requests one a line, runs of identical ones as one line
// with a count.
func describe(rs []liveRequest) string {
	if len(rs) == 0 {
		return " none"
	}
	var b strings.Builder
	for i := 0; i < len(rs); {
		r, n := rs[i], 1
		for i+n < len(rs) && rs[i+n] == r {
			n++
		}
		i += n
		if n > 1 {
			fmt.Fprintf(&b, "\n  %d× %s %s", n, r.Method, r.Path)
		} else {
			fmt.Fprintf(&b, "\n  %s %s", r.Method, r.Path)
		}
		if r.LastEventID != "" {
			fmt.Fprintf(&b, " Last-Event-ID %s", r.LastEventID)
		}
		if r.IfNoneMatch != "" {
			fmt.Fprintf(&b, " If-None-Match %s", r.IfNoneMatch)
		}
		fmt.Fprintf(&b, " -> %d", r.Status)
		if r.Etag != "" {
			fmt.Fprintf(&b, " ETag %s", r.Etag)
		}
		if r.Error != "" {
			fmt.Fprintf(&b, " (%s)", r.Error)
		}
	}
	return b.String()
}

// liveSDK is one running e2e/node/streaming-sdk.js: its lines as they
// come.
type liveSDK struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *syncBuffer
	mu     sync.Mutex
	lines  []sdkLine
	more   chan struct{} // closed (and replaced) when a line arrives
	ended  chan struct{} // closed when stdout ends
	exited chan error
}

// startLiveSDK starts the script with cfg; it is told to quit (and killed
// by PID when it does not) when the test ends.
func startLiveSDK(t *testing.T, node string, cfg map[string]any) *liveSDK {
	t.Helper()
	raw, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(cfgPath, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	s := &liveSDK{stderr: &syncBuffer{}, more: make(chan struct{}), ended: make(chan struct{}), exited: make(chan error, 1)}
	s.cmd = exec.Command(node, filepath.Join(repoRoot, "e2e", "node", "streaming-sdk.js"), cfgPath)
	s.cmd.Env = append(os.Environ(), "NODE_PATH="+sdkModules(), "NODE_ENV=production")
	s.cmd.Stderr = s.stderr
	if s.stdin, err = s.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start node: %v", err)
	}
	go func() {
		defer close(s.ended)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			l := sdkLine{raw: sc.Text()}
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				l = sdkLine{Type: "garbage", raw: sc.Text()}
			}
			s.mu.Lock()
			s.lines = append(s.lines, l)
			close(s.more)
			s.more = make(chan struct{})
			s.mu.Unlock()
		}
	}()
	go func() {
		<-s.ended // Wait closes stdout; read it all first
		s.exited <- s.cmd.Wait()
	}()
	t.Cleanup(func() { s.stop(t) })
	return s
}

// quit asks the script to end and checks that it ended cleanly.
func (s *liveSDK) quit(t *testing.T) {
	t.Helper()
	_, _ = io.WriteString(s.stdin, "quit\n")
	select {
	case err := <-s.exited:
		s.exited <- err // for stop
		if err != nil {
			t.Errorf("node streaming-sdk.js: %v; stderr:\n%s", err, s.stderr.String())
		}
		if ex := linesOf(s.since(0), "exit"); len(ex) != 1 || ex[0].Failure != "" {
			t.Errorf("node streaming-sdk.js ended with %s", jsonString(ex))
		}
	case <-time.After(10 * time.Second):
		t.Errorf("node streaming-sdk.js (pid %d) still running 10 s after quit", s.cmd.Process.Pid)
	}
}

// stop ends the script: quit, then SIGKILL by PID after 5 s.
func (s *liveSDK) stop(t *testing.T) {
	_, _ = io.WriteString(s.stdin, "quit\n")
	_ = s.stdin.Close()
	select {
	case err := <-s.exited:
		s.exited <- err
	case <-time.After(5 * time.Second):
		t.Errorf("node streaming-sdk.js (pid %d) still running 5 s after quit; killing it", s.cmd.Process.Pid)
		_ = s.cmd.Process.Kill()
		select {
		case <-s.exited:
		case <-time.After(5 * time.Second):
		}
	}
	if st := strings.TrimSpace(s.stderr.String()); st != "" {
		t.Logf("node streaming-sdk.js stderr:\n%s", st)
	}
}

// mark is the number of lines so far: what since and waitFor start at.
func (s *liveSDK) mark() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.lines)
}

func (s *liveSDK) since(from int) []sdkLine {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.lines[from:])
}

// waitFor waits up to limit for a line at index from or later that pred
// accepts and returns its index; it fails the test when none comes or the
// script ends.
func (s *liveSDK) waitFor(t *testing.T, from int, limit time.Duration, what string, pred func(sdkLine) bool) int {
	t.Helper()
	i, err := s.tryWaitFor(from, limit, pred)
	if err != nil {
		t.Fatalf("%s: %v; SDK log:\n%s", what, err, s.dump())
	}
	return i
}

// tryWaitFor is waitFor returning an error instead of failing.
func (s *liveSDK) tryWaitFor(from int, limit time.Duration, pred func(sdkLine) bool) (int, error) {
	timer := time.NewTimer(limit)
	defer timer.Stop()
	for i := from; ; {
		s.mu.Lock()
		for ; i < len(s.lines); i++ {
			if pred(s.lines[i]) {
				s.mu.Unlock()
				return i, nil
			}
		}
		more := s.more
		s.mu.Unlock()
		select {
		case <-more:
		case <-s.ended:
			if s.mark() > i {
				continue
			}
			return -1, fmt.Errorf("the SDK script ended first; stderr:\n%s", s.stderr.String())
		case <-timer.C:
			return -1, fmt.Errorf("not within %v", limit)
		}
	}
}

// waitState waits for the SDK to report want (its last state line at or
// after from, or before from when none came since).
func (s *liveSDK) waitState(t *testing.T, from int, limit time.Duration, what string, want map[string]string) {
	t.Helper()
	if _, err := s.tryWaitState(from, limit, want); err != nil {
		t.Fatalf("%s: want %s, have %s: %v; SDK log:\n%s", what, jsonString(want), jsonString(s.currentState()), err, s.dump())
	}
}

// tryWaitState is waitState returning an error instead of failing.
func (s *liveSDK) tryWaitState(from int, limit time.Duration, want map[string]string) (int, error) {
	if maps.Equal(s.currentState(), want) {
		return s.mark(), nil
	}
	return s.tryWaitFor(from, limit, func(l sdkLine) bool { return l.Type == "state" && maps.Equal(l.State, want) })
}

func (s *liveSDK) currentState() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.lines) - 1; i >= 0; i-- {
		if s.lines[i].Type == "state" {
			return s.lines[i].State
		}
	}
	return nil
}

// requests lists every request of the SDK to path (query ignored).
func (s *liveSDK) requests(path string) []liveRequest {
	return s.requestsIn(s.since(0), path)
}

// requestsIn lists the requests started in lines to path ("": any path),
// with their answers as far as they came (answers are looked up among all
// lines).
func (s *liveSDK) requestsIn(lines []sdkLine, path string) []liveRequest {
	all := s.since(0)
	var out []liveRequest
	for _, l := range lines {
		if l.Type != "request" {
			continue
		}
		p, _, _ := strings.Cut(l.Path, "?")
		if path != "" && p != path {
			continue
		}
		r := liveRequest{Method: l.Meth, Path: l.Path, LastEventID: l.LEID, IfNoneMatch: l.INM}
		for _, a := range all {
			if a.ID == l.ID && (a.Type == "response" || a.Type == "requestError") {
				r.Status, r.Etag, r.Error = a.Stat, a.Etag, a.Err
			}
		}
		out = append(out, r)
	}
	return out
}

// sse lists the SSE events of type event received at line from or later.
func (s *liveSDK) sse(event string, from int) []sdkLine {
	var out []sdkLine
	for _, l := range s.since(from) {
		if l.Type == "sse" && l.Event == event {
			out = append(out, l)
		}
	}
	return out
}

// lastEventID is the event id the SDK would resume from: its last SSE
// event's id, or its last delta ETag.
func (s *liveSDK) lastEventID(mode string) string {
	lines := s.since(0)
	for i := len(lines) - 1; i >= 0; i-- {
		l := lines[i]
		if mode == "streaming" && l.Type == "sse" {
			return l.LEID
		}
		if mode == "delta" && l.Type == "response" && l.Stat == http.StatusOK && l.Etag != "" {
			return l.Etag
		}
	}
	return ""
}

// problems lists the SDK's warnings and errors (and unparsable lines) at
// line from or later.
func (s *liveSDK) problems(from int) []string {
	var out []string
	for _, l := range s.since(from) {
		switch l.Type {
		case "warn", "error":
			out = append(out, l.Type+": "+l.Message)
		case "garbage":
			out = append(out, "not JSON: "+l.raw)
		case "sse":
			if l.ParseError != "" {
				out = append(out, "SSE data not JSON: "+l.raw)
			}
		}
	}
	return out
}

// dump is the SDK's output so far, for failure messages (the last 200
// lines).
func (s *liveSDK) dump() string {
	lines := s.since(0)
	var b strings.Builder
	if len(lines) > 200 {
		fmt.Fprintf(&b, "  … %d earlier lines\n", len(lines)-200)
		lines = lines[len(lines)-200:]
	}
	for _, l := range lines {
		b.WriteString("  ")
		b.WriteString(l.raw)
		b.WriteByte('\n')
	}
	return b.String()
}

func linesOf(lines []sdkLine, typ string) []sdkLine {
	var out []sdkLine
	for _, l := range lines {
		if l.Type == typ {
			out = append(out, l)
		}
	}
	return out
}
