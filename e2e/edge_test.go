package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/brink-edge/brink/internal/testenv"
)

// This file holds the helpers of the edge-mode tests (brink edge against a
// real Unleash 8 from internal/testenv) and TestEdgeUnleash.

// edgeEnv is the Unleash environment every edge-mode test uses.
const edgeEnv = testenv.EnvDevelopment

// edgeProc is one `brink edge` process. It embeds *brink for do().
type edgeProc struct {
	*brink
	name   string
	args   []string // after "edge", without --port and -i
	port   int
	exited chan error
	// readyTrace is what /internal-backstage/ready answered while the
	// process came up: 0 for a refused connection, else the status.
	readyTrace []int
	// readyAt is when the first 200 from /internal-backstage/ready arrived.
	readyAt time.Time
}

// startEdge starts `brink edge -u upstream args...` on a free 127.0.0.1
// port and waits (up to 30 s) for /internal-backstage/ready to say 200. The
// process is stopped by PID when the test ends, its log shown if the test
// failed.
func startEdge(t *testing.T, name, upstream string, args ...string) *edgeProc {
	t.Helper()
	port, err := freePort()
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	e := &edgeProc{name: name, args: append([]string{"-u", upstream}, args...), port: port}
	e.start(t)
	return e
}

// start (re)starts the process with its arguments on its port.
func (e *edgeProc) start(t *testing.T) {
	t.Helper()
	e.brink = &brink{url: "http://127.0.0.1:" + strconv.Itoa(e.port), log: &syncBuffer{}}
	args := append([]string{"edge"}, e.args...)
	args = append(args, "--port", strconv.Itoa(e.port), "-i", "127.0.0.1")
	e.cmd = exec.Command(brinkBin, args...)
	e.cmd.Stdout, e.cmd.Stderr = e.log, e.log
	if err := e.cmd.Start(); err != nil {
		t.Fatalf("start brink %s: %v", e.name, err)
	}
	exited := make(chan error, 1)
	e.exited = exited
	go func() { exited <- e.cmd.Wait() }()
	cmd, log := e.cmd, e.log
	t.Cleanup(func() {
		select {
		case <-exited:
			return
		default:
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			t.Errorf("brink %s (pid %d) still running 15s after SIGTERM; killing it", e.name, cmd.Process.Pid)
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("brink %s log (%s):\n%s", e.name, strings.Join(args, " "), tail(log.String(), 6000))
		}
	})
	e.readyTrace = nil
	if err := e.waitReady(30 * time.Second); err != nil {
		t.Fatalf("brink %s: %v", e.name, err)
	}
}

// waitReady polls /internal-backstage/ready every 20 ms until it answers
// 200, recording every answer in readyTrace.
func (e *edgeProc) waitReady(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	c := &http.Client{Timeout: 2 * time.Second}
	for time.Now().Before(deadline) {
		select {
		case err := <-e.exited:
			e.exited <- err
			return fmt.Errorf("exited before ready (%v):\n%s", err, e.log.String())
		default:
		}
		resp, err := c.Get(e.url + "/internal-backstage/ready")
		if err != nil {
			e.readyTrace = append(e.readyTrace, 0)
		} else {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			e.readyTrace = append(e.readyTrace, resp.StatusCode)
			switch resp.StatusCode {
			case http.StatusOK:
				e.readyAt = time.Now()
				return nil
			case http.StatusServiceUnavailable:
				if !strings.Contains(string(body), `"NOT_READY"`) {
					return fmt.Errorf("/internal-backstage/ready: 503 with body %s, want status NOT_READY", body)
				}
			default:
				return fmt.Errorf("/internal-backstage/ready: %d %s, want 503 or 200", resp.StatusCode, body)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("no 200 from %s/internal-backstage/ready within %v (answers %v); log:\n%s", e.url, limit, compactTrace(e.readyTrace), e.log.String())
}

// compactTrace renders a ready trace with runs collapsed: [0×3 503×10 200].
func compactTrace(tr []int) string {
	var parts []string
	for i := 0; i < len(tr); {
		j := i
		for j < len(tr) && tr[j] == tr[i] {
			j++
		}
		if j-i > 1 {
			parts = append(parts, fmt.Sprintf("%d×%d", tr[i], j-i))
		} else {
			parts = append(parts, strconv.Itoa(tr[i]))
		}
		i = j
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// stop sends SIGTERM and waits up to 15 s (Edge's 10 s graceful bound plus
// the final metrics flush and persist); it fails the test unless brink
// exits, with status 0.
func (e *edgeProc) stop(t *testing.T) {
	t.Helper()
	_ = e.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-e.exited:
		e.exited <- err
		if err != nil {
			t.Errorf("brink %s exited with %v after SIGTERM, want status 0; log:\n%s", e.name, err, tail(e.log.String(), 4000))
		}
	case <-time.After(15 * time.Second):
		_ = e.cmd.Process.Kill()
		t.Fatalf("brink %s (pid %d) still running 15s after SIGTERM; killed", e.name, e.cmd.Process.Pid)
	}
}

// get sends GET path with token (and Unleash-Client-Spec: 6.1.0 as SDKs
// do) and returns the status and body; it fails the test only when no
// answer came.
func (e *edgeProc) get(t *testing.T, path, token string) (int, []byte) {
	t.Helper()
	return httpDo(t, http.MethodGet, e.url+path, token, nil)
}

func httpDo(t *testing.T, method, url, token string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Unleash-Client-Spec", testenv.ClientSpec)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return resp.StatusCode, b
}

// clientFeatures fetches brink's /api/client/features with token (status
// must be 200) and returns it decoded.
func (e *edgeProc) clientFeatures(t *testing.T, token string) featureSet {
	t.Helper()
	status, b := e.get(t, "/api/client/features", token)
	if status != http.StatusOK {
		t.Fatalf("brink %s: GET /api/client/features: %d %s", e.name, status, b)
	}
	return decodeFeatures(t, "brink "+e.name, b)
}

// frontend is GET /api/frontend?<ctx> with a frontend token: the enabled
// toggles by name, or the status when it is not 200.
func (e *edgeProc) frontend(t *testing.T, token string, ctx url.Values) (map[string]toggle, int, []byte) {
	t.Helper()
	status, b := e.get(t, "/api/frontend?"+ctx.Encode(), token)
	if status != http.StatusOK {
		return nil, status, b
	}
	var resp struct {
		Toggles []toggle `json:"toggles"`
	}
	if err := json.Unmarshal(b, &resp); err != nil {
		t.Fatalf("brink %s: /api/frontend: %v: %s", e.name, err, b)
	}
	m := map[string]toggle{}
	for _, tg := range resp.Toggles {
		m[tg.Name] = tg
	}
	return m, status, b
}

// promCounter reads one sample of brink's /internal-backstage/metrics (0
// when absent).
func (e *edgeProc) promCounter(t *testing.T, series string) float64 {
	t.Helper()
	status, b := e.get(t, "/internal-backstage/metrics", "")
	if status != http.StatusOK {
		t.Fatalf("brink %s: /internal-backstage/metrics: %d", e.name, status)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("metric %s: %q", series, line)
			}
			return f
		}
	}
	return 0
}

// backstageTokens is the part of /internal-backstage/tokens the tests read.
type backstageTokens struct {
	TokenValidationStatus []struct {
		Token       string   `json:"token"`
		Type        string   `json:"type"`
		Environment string   `json:"environment"`
		Projects    []string `json:"projects"`
	} `json:"tokenValidationStatus"`
	InvalidTokenCount int `json:"invalidTokenCount"`
}

func (e *edgeProc) tokens(t *testing.T) backstageTokens {
	t.Helper()
	var bt backstageTokens
	e.do(t, http.MethodGet, "/internal-backstage/tokens", "", nil, http.StatusOK, &bt)
	return bt
}

// register posts an SDK registration (POST /api/client/register) for app
// to brink with token; it must be accepted (202).
func (e *edgeProc) register(t *testing.T, token, app, instance string) {
	t.Helper()
	if status, b := httpDo(t, http.MethodPost, e.url+"/api/client/register", token, map[string]any{
		"appName": app, "instanceId": instance, "sdkVersion": "brink-e2e:1.0.0",
		"strategies": []string{"default", "flexibleRollout"}, "started": time.Now().UTC().Format(time.RFC3339),
		"interval": 1000,
	}); status != http.StatusAccepted {
		t.Fatalf("brink %s: POST /api/client/register: %d %s, want 202", e.name, status, b)
	}
}

// postMetrics posts one SDK metrics bucket (POST /api/client/metrics, as
// the Node SDK does) for app to brink with token: counts are yes, no by
// flag. It must be accepted (202).
func (e *edgeProc) postMetrics(t *testing.T, token, app, instance string, counts map[string][2]int) {
	t.Helper()
	now := time.Now().UTC()
	toggles := map[string]any{}
	for flag, c := range counts {
		toggles[flag] = map[string]any{"yes": c[0], "no": c[1], "variants": map[string]int{}}
	}
	if status, b := httpDo(t, http.MethodPost, e.url+"/api/client/metrics", token, map[string]any{
		"appName": app, "instanceId": instance,
		"bucket": map[string]any{
			"start": now.Add(-time.Second).Format(time.RFC3339Nano), "stop": now.Format(time.RFC3339Nano),
			"toggles": toggles,
		},
	}); status != http.StatusAccepted {
		t.Fatalf("brink %s: POST /api/client/metrics: %d %s, want 202", e.name, status, b)
	}
}

// waitFlagsKnownToMetrics waits until Unleash stores metrics for flags
// created at created. Unleash checks incoming metrics against the flag
// names it caches for 10 s and silently drops the others
// (features/metrics/client-metrics/metrics-service-v2.js in
// unleash-server 8), so metrics for a flag younger than that may be lost
// upstream through no fault of brink.
func waitFlagsKnownToMetrics(t *testing.T, created time.Time) {
	t.Helper()
	if d := time.Until(created.Add(10*time.Second + 500*time.Millisecond)); d > 0 {
		t.Logf("waiting %v for Unleash's 10 s cache of flag names used to accept metrics", d.Round(100*time.Millisecond))
		time.Sleep(d)
	}
}

// waitUnleashMetrics waits until Unleash has stored exactly yes/no for
// flag from app (in edgeEnv).
func waitUnleashMetrics(t *testing.T, u *testenv.Unleash, flag, app string, yes, no int64, limit time.Duration) {
	t.Helper()
	began := time.Now()
	m := u.WaitMetrics(t, flag, limit, func(m []testenv.MetricsBucket) bool {
		y, n := testenv.MetricsTotal(m, app)
		return y == yes && n == no
	})
	for _, b := range m {
		if b.AppName == app && b.Environment != edgeEnv {
			t.Errorf("Unleash stored metrics of %s for %s in environment %q, want %q: %+v", app, flag, b.Environment, edgeEnv, b)
		}
	}
	t.Logf("metrics of %s for %s in Unleash after %v", app, flag, time.Since(began).Round(100*time.Millisecond))
}

// waitApplication waits (up to limit: Unleash stores registrations every
// 20 s) until Unleash knows app, and returns its instances.
func waitApplication(t *testing.T, u *testenv.Unleash, app string, limit time.Duration) []testenv.AppInstance {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		if inst, ok := u.Application(t, app); ok && len(inst) > 0 {
			return inst
		}
		if time.Now().After(deadline) {
			t.Fatalf("Unleash does not know application %q after %v", app, limit)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// featureSet is a /api/client/features answer reduced to what must agree
// between Unleash and brink: per flag, enabled and its strategies (name,
// parameters, constraints, segments, variants) and variants; and the
// segments by id.
type featureSet struct {
	Features map[string]featureView
	Segments map[int]string
	Raw      []byte
}

type featureView struct {
	Project    string
	Enabled    bool
	Strategies string // canonical JSON
	Variants   string // canonical JSON
	Deps       string // canonical JSON
}

func decodeFeatures(t *testing.T, who string, b []byte) featureSet {
	t.Helper()
	var cf struct {
		Features []struct {
			Name         string          `json:"name"`
			Project      string          `json:"project"`
			Enabled      bool            `json:"enabled"`
			Strategies   json.RawMessage `json:"strategies"`
			Variants     json.RawMessage `json:"variants"`
			Dependencies json.RawMessage `json:"dependencies"`
		} `json:"features"`
		Segments []json.RawMessage `json:"segments"`
	}
	if err := json.Unmarshal(b, &cf); err != nil {
		t.Fatalf("%s: /api/client/features: %v: %s", who, err, tail(string(b), 2000))
	}
	fs := featureSet{Features: map[string]featureView{}, Segments: map[int]string{}, Raw: b}
	for _, f := range cf.Features {
		fs.Features[f.Name] = featureView{
			Project: f.Project, Enabled: f.Enabled,
			Strategies: canonicalStrategies(f.Strategies), Variants: canonical(f.Variants), Deps: canonical(f.Dependencies),
		}
	}
	for _, s := range cf.Segments {
		var seg struct {
			ID          int             `json:"id"`
			Constraints json.RawMessage `json:"constraints"`
		}
		if err := json.Unmarshal(s, &seg); err != nil {
			t.Fatalf("%s: segment %s: %v", who, s, err)
		}
		fs.Segments[seg.ID] = canonical(seg.Constraints)
	}
	return fs
}

// canonicalStrategies is canonical without the weightType of strategy
// variants: Unleash sends it, Unleash Edge does not (unleash-types'
// StrategyVariant has name, weight, payload and stickiness only) and SDKs
// only read the weights.
func canonicalStrategies(raw json.RawMessage) string {
	var ss []map[string]any
	if err := json.Unmarshal(raw, &ss); err != nil {
		return canonical(raw)
	}
	for _, s := range ss {
		if vs, ok := s["variants"].([]any); ok {
			for _, v := range vs {
				if m, ok := v.(map[string]any); ok {
					delete(m, "weightType")
				}
			}
		}
	}
	b, _ := json.Marshal(ss)
	return canonical(b)
}

// canonical re-encodes JSON with sorted keys, empty values dropped from
// objects (Unleash and Edge differ in which optional fields they omit
// versus send empty), and null/[]/absent treated alike.
func canonical(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return "!" + string(raw)
	}
	v = prune(v)
	if v == nil {
		return ""
	}
	b, _ := json.Marshal(v) // maps marshal with sorted keys
	return string(b)
}

func prune(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, val := range x {
			if p := prune(val); p != nil {
				out[k] = p
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	case []any:
		out := make([]any, 0, len(x))
		for _, val := range x {
			p := prune(val)
			if p == nil {
				p = map[string]any{}
			}
			out = append(out, p)
		}
		if len(out) == 0 {
			return nil
		}
		return out
	case string:
		if x == "" {
			return nil
		}
		return x
	case bool:
		if !x {
			return nil
		}
		return x
	}
	return v
}

// diffFeatureSets lists where brink's feature set differs from Unleash's.
func diffFeatureSets(unleash, edge featureSet) []string {
	var d []string
	names := slices.Sorted(maps.Keys(unleash.Features))
	for n := range edge.Features {
		if _, ok := unleash.Features[n]; !ok {
			names = append(names, n)
		}
	}
	for _, n := range names {
		u, uok := unleash.Features[n]
		e, eok := edge.Features[n]
		switch {
		case !eok:
			d = append(d, fmt.Sprintf("%s: served by Unleash, missing from brink", n))
		case !uok:
			d = append(d, fmt.Sprintf("%s: served by brink, not by Unleash", n))
		case u != e:
			d = append(d, fmt.Sprintf("%s:\n    Unleash %+v\n    brink   %+v", n, u, e))
		}
	}
	for id, c := range unleash.Segments {
		if e, ok := edge.Segments[id]; !ok {
			d = append(d, fmt.Sprintf("segment %d: served by Unleash, missing from brink", id))
		} else if e != c {
			d = append(d, fmt.Sprintf("segment %d: Unleash constraints %s, brink %s", id, c, e))
		}
	}
	for id := range edge.Segments {
		if _, ok := unleash.Segments[id]; !ok {
			d = append(d, fmt.Sprintf("segment %d: served by brink, not by Unleash", id))
		}
	}
	return d
}

// waitSameFeatures polls until brink serves the feature set Unleash serves
// for token (brink follows within a refresh interval), and fails the test
// with the differences after limit.
func waitSameFeatures(t *testing.T, u *testenv.Unleash, e *edgeProc, token string, limit time.Duration) featureSet {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		want := decodeFeatures(t, "Unleash", u.ClientFeatures(t, token))
		got := e.clientFeatures(t, token)
		d := diffFeatureSets(want, got)
		if len(d) == 0 {
			return got
		}
		if time.Now().After(deadline) {
			reportDiffs(t, fmt.Sprintf("brink %s /api/client/features vs Unleash's after %v", e.name, limit), d)
			t.FailNow()
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// eventually polls cond every 50 ms for up to limit and reports how long
// it took; it fails the test with what() when cond never held.
func eventually(t *testing.T, limit time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	began := time.Now()
	for !cond() {
		if time.Since(began) > limit {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Since(began)
}

// upstreamRecorder is a transparent reverse proxy in front of Unleash that
// records every request brink sends upstream: method, path and, for
// /edge/validate, the tokens asked about.
type upstreamRecorder struct {
	srv    *httptest.Server
	mu     sync.Mutex
	log    []upstreamCall
	delays map[string]time.Duration // by "METHOD /path"
}

type upstreamCall struct {
	Method, Path string
	Tokens       []string // POST /edge/validate only
	Status       int
	Done         time.Time // when the answer was passed on to brink
}

// setDelay holds every later METHOD path request for d before passing it
// upstream (0 removes the delay).
func (r *upstreamRecorder) setDelay(method, path string, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.delays[method+" "+path] = d
}

func newUpstreamRecorder(t *testing.T, target string) *upstreamRecorder {
	t.Helper()
	tu, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := &httputil.ReverseProxy{
		Rewrite:       func(r *httputil.ProxyRequest) { r.SetURL(tu); r.Out.Host = r.In.Host },
		FlushInterval: -1,
	}
	r := &upstreamRecorder{delays: map[string]time.Duration{}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		call := upstreamCall{Method: req.Method, Path: req.URL.Path}
		r.mu.Lock()
		d := r.delays[req.Method+" "+req.URL.Path]
		r.mu.Unlock()
		if d > 0 {
			time.Sleep(d)
		}
		if req.Method == http.MethodPost && req.URL.Path == "/edge/validate" {
			b, _ := io.ReadAll(req.Body)
			req.Body = io.NopCloser(bytes.NewReader(b))
			var body struct {
				Tokens []string `json:"tokens"`
			}
			_ = json.Unmarshal(b, &body)
			call.Tokens = body.Tokens
		}
		sw := &statusWriter{ResponseWriter: w}
		rp.ServeHTTP(sw, req)
		call.Status = sw.status
		call.Done = time.Now()
		r.mu.Lock()
		r.log = append(r.log, call)
		r.mu.Unlock()
	}))
	t.Cleanup(r.srv.Close)
	return r
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// validations counts the /edge/validate requests that asked about token.
func (r *upstreamRecorder) validations(token string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.log {
		if slices.Contains(c.Tokens, token) {
			n++
		}
	}
	return n
}

func (r *upstreamRecorder) calls() []upstreamCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.log)
}

// seedFlags creates flags for the edge tests in Unleash's development
// environment and returns their names by role:
//
//	on       default strategy, enabled
//	toggled  default strategy, enabled (tests turn it off)
//	off      flexibleRollout 100 %, disabled
//	rollout  flexibleRollout 40 % on userId, explicit groupId
//	segment  flexibleRollout 100 % behind a segment userId IN [u1..u9]
func seedFlags(t *testing.T, u *testenv.Unleash, prefix string) map[string]string {
	t.Helper()
	const p = testenv.DefaultProject
	names := map[string]string{}
	for _, role := range []string{"on", "toggled", "off", "rollout", "segment"} {
		names[role] = testenv.UniqueName(t, prefix+"-"+role)
		u.CreateFlag(t, p, names[role])
	}
	u.AddStrategy(t, p, names["on"], edgeEnv, map[string]any{"name": "default"})
	u.AddStrategy(t, p, names["toggled"], edgeEnv, map[string]any{"name": "default"})
	u.AddStrategy(t, p, names["off"], edgeEnv, rollout(100, "default", names["off"]))
	u.AddStrategy(t, p, names["rollout"], edgeEnv, rollout(40, "userId", names["rollout"]))
	seg := u.CreateSegment(t, testenv.UniqueName(t, prefix+"-seg"),
		`[{"contextName":"userId","operator":"IN","values":["u1","u2","u3","u4","u5","u6","u7","u8","u9"]}]`)
	s := rollout(100, "default", names["segment"])
	s["segments"] = []int{seg}
	u.AddStrategy(t, p, names["segment"], edgeEnv, s)
	for _, role := range []string{"on", "toggled", "rollout", "segment"} {
		u.EnableFlag(t, p, names[role], edgeEnv)
	}
	return names
}

func rollout(percent int, stickiness, groupID string) map[string]any {
	return map[string]any{
		"name": "flexibleRollout",
		"parameters": map[string]string{
			"rollout": strconv.Itoa(percent), "stickiness": stickiness, "groupId": groupID,
		},
		"constraints": []any{},
	}
}

// waitUnleashServes waits until Unleash's own client API serves flag with
// enabled == want for token (Unleash refreshes its view every second).
func waitUnleashServes(t *testing.T, u *testenv.Unleash, token, flag string, want bool) {
	t.Helper()
	eventually(t, 10*time.Second, fmt.Sprintf("Unleash serving %s enabled=%v", flag, want), func() bool {
		f, ok := decodeFeatures(t, "Unleash", u.ClientFeatures(t, token)).Features[flag]
		return ok && f.Enabled == want
	})
}

// TestEdgeUnleash runs `brink edge` against a real Unleash 8: it hot-starts
// from a client token (readiness 503 then 200, never anything else), serves
// the same client features as Unleash for that token, follows a change
// within two refresh intervals, validates a frontend token created after it
// started, rejects a made-up token with 403 after asking upstream once, and
// forwards SDK metrics and registrations to Unleash.
func TestEdgeUnleash(t *testing.T) {
	u := testenv.SharedUnleash(t)
	client := u.CreateAPIToken(t, "client", edgeEnv, []string{"*"})
	flags := seedFlags(t, u, "edge")
	created := time.Now()
	waitUnleashServes(t, u, client, flags["segment"], true)

	rec := newUpstreamRecorder(t, u.URL())
	// A slow /edge/validate widens the hot start, so that readiness
	// probes surely come during it.
	rec.setDelay(http.MethodPost, "/edge/validate", 500*time.Millisecond)
	const refresh = time.Second
	e := startEdge(t, "edge", rec.srv.URL, "-t", client, "-f", "1", "-m", "1")
	rec.setDelay(http.MethodPost, "/edge/validate", 0)

	t.Run("readiness", func(t *testing.T) {
		// Listening before the hot start ends: refused, then 503
		// NOT_READY, then 200 (waitReady rejects anything else), and
		// 200 only once the features came from upstream (Unleash Edge
		// listens only after its hot start).
		tr := e.readyTrace
		t.Logf("ready trace %s", compactTrace(tr))
		if tr[len(tr)-1] != http.StatusOK {
			t.Fatalf("ready trace %s does not end in 200", compactTrace(tr))
		}
		var fetched time.Time
		eventually(t, 10*time.Second, "brink's hot-start GET /api/client/features upstream", func() bool {
			for _, c := range rec.calls() {
				if c.Method == http.MethodGet && c.Path == "/api/client/features" && c.Status == http.StatusOK {
					fetched = c.Done
					return true
				}
			}
			return false
		})
		if e.readyAt.Before(fetched) {
			t.Errorf("/internal-backstage/ready said 200 READY %v before the hot start's GET /api/client/features upstream was answered (ready trace %s; upstream calls %+v)",
				fetched.Sub(e.readyAt).Round(time.Millisecond), compactTrace(tr), rec.calls())
		}
		if status, b := e.get(t, "/api/client/features", client); status != http.StatusOK {
			t.Errorf("right after /ready said 200: GET /api/client/features with the startup token: %d %s, want 200", status, b)
		}
		for range 5 {
			if status, b := e.get(t, "/internal-backstage/ready", ""); status != http.StatusOK || !strings.Contains(string(b), `"READY"`) {
				t.Fatalf("/internal-backstage/ready after ready: %d %s", status, b)
			}
		}
	})

	// Registration first: Unleash stores registrations only every 20 s;
	// the other checks run meanwhile.
	app := testenv.UniqueName(t, "app")
	e.register(t, client, app, "edge-e2e-1")

	t.Run("client-features-match-unleash", func(t *testing.T) {
		got := waitSameFeatures(t, u, e, client, 5*time.Second)
		for _, role := range []string{"on", "toggled", "off", "rollout", "segment"} {
			if _, ok := got.Features[flags[role]]; !ok {
				t.Errorf("brink does not serve %s", flags[role])
			}
		}
		if len(got.Segments) == 0 {
			t.Errorf("brink served no top-level segments with Unleash-Client-Spec %s", testenv.ClientSpec)
		}
		// The refresh ran through the recorder: brink asked with the
		// client spec Edge announces.
		if !slices.ContainsFunc(rec.calls(), func(c upstreamCall) bool {
			return c.Method == http.MethodGet && c.Path == "/api/client/features" && c.Status == http.StatusOK
		}) {
			t.Errorf("no successful GET /api/client/features upstream: %+v", rec.calls())
		}
	})

	t.Run("change-within-two-refreshes", func(t *testing.T) {
		flag := flags["toggled"]
		if f := e.clientFeatures(t, client).Features[flag]; !f.Enabled {
			t.Fatalf("%s not enabled in brink before the change", flag)
		}
		u.DisableFlag(t, testenv.DefaultProject, flag, edgeEnv)
		// Two refresh intervals, plus the second Unleash takes to see its
		// own change and a second of slack for a loaded machine.
		took := eventually(t, 2*refresh+2*time.Second, "brink serving "+flag+" disabled", func() bool {
			f, ok := e.clientFeatures(t, client).Features[flag]
			return ok && !f.Enabled
		})
		t.Logf("disabled flag served by brink %v after the admin call", took.Round(10*time.Millisecond))
		q := url.Values{"userId": {"u1"}}
		fe := u.CreateAPIToken(t, "frontend", edgeEnv, []string{testenv.DefaultProject})
		eventually(t, 5*time.Second, "frontend API without "+flag, func() bool {
			m, status, b := e.frontend(t, fe, q)
			if status != http.StatusOK {
				t.Fatalf("frontend token: %d %s", status, b)
			}
			_, on := m[flag]
			return !on
		})
	})

	t.Run("frontend-token-created-after-start", func(t *testing.T) {
		fe := u.CreateAPIToken(t, "frontend", edgeEnv, []string{testenv.DefaultProject})
		before := rec.validations(fe)
		m, status, b := e.frontend(t, fe, url.Values{"userId": {"u1"}, "sessionId": {"s1"}})
		if status != http.StatusOK {
			t.Fatalf("GET /api/frontend with a frontend token created after brink started: %d %s, want 200", status, b)
		}
		for _, role := range []string{"on", "segment"} {
			if tg, ok := m[flags[role]]; !ok || !tg.Enabled {
				t.Errorf("/api/frontend for userId u1: %s not enabled: %s", flags[role], b)
			}
		}
		if _, ok := m[flags["off"]]; ok {
			t.Errorf("/api/frontend serves the disabled %s: %s", flags["off"], b)
		}
		// u20 is not in the segment.
		m, _, b = e.frontend(t, fe, url.Values{"userId": {"u20"}})
		if _, ok := m[flags["segment"]]; ok {
			t.Errorf("/api/frontend for userId u20 serves %s (segment userId IN u1..u9): %s", flags["segment"], b)
		}
		if n := rec.validations(fe) - before; n != 1 {
			t.Errorf("brink asked upstream about the new frontend token %d times, want 1", n)
		}
		// It is a frontend token: not for the client API.
		if status, b := e.get(t, "/api/client/features", fe); status != http.StatusForbidden {
			t.Errorf("frontend token on /api/client/features: %d %s, want 403", status, b)
		}
		bt := e.tokens(t)
		found := false
		for _, v := range bt.TokenValidationStatus {
			found = found || (v.Type == "frontend" && v.Environment == edgeEnv)
		}
		if !found {
			t.Errorf("/internal-backstage/tokens has no validated frontend token: %+v", bt)
		}
	})

	t.Run("bogus-token", func(t *testing.T) {
		bogus := "*:" + edgeEnv + ".0000000000000000000000000000000000000000000000000000bogus"
		invalidBefore := e.promCounter(t, `brink_api_token_validations_total{result="invalid"}`)
		countBefore := e.tokens(t).InvalidTokenCount
		for i := range 3 {
			if status, b := e.get(t, "/api/client/features", bogus); status != http.StatusForbidden {
				t.Fatalf("request %d with a made-up token on /api/client/features: %d %s, want 403", i+1, status, b)
			}
			if status, b := e.get(t, "/api/frontend", bogus); status != http.StatusForbidden {
				t.Fatalf("request %d with a made-up token on /api/frontend: %d %s, want 403", i+1, status, b)
			}
		}
		if n := rec.validations(bogus); n != 1 {
			t.Errorf("brink sent the made-up token to upstream /edge/validate %d times for 6 requests, want 1", n)
		}
		if d := e.promCounter(t, `brink_api_token_validations_total{result="invalid"}`) - invalidBefore; d != 1 {
			t.Errorf("brink_api_token_validations_total{result=\"invalid\"} grew by %v, want 1", d)
		}
		if d := e.tokens(t).InvalidTokenCount - countBefore; d != 1 {
			t.Errorf("/internal-backstage/tokens invalidTokenCount grew by %d, want 1", d)
		}
	})

	t.Run("metrics-reach-unleash", func(t *testing.T) {
		waitFlagsKnownToMetrics(t, created)
		e.postMetrics(t, client, app, "edge-e2e-1", map[string][2]int{flags["on"]: {7, 3}, flags["rollout"]: {2, 5}})
		waitUnleashMetrics(t, u, flags["on"], app, 7, 3, 30*time.Second)
		waitUnleashMetrics(t, u, flags["rollout"], app, 2, 5, 10*time.Second)
		bulk := slices.ContainsFunc(rec.calls(), func(c upstreamCall) bool {
			return c.Method == http.MethodPost && c.Path == "/api/client/metrics/bulk" && c.Status == http.StatusAccepted
		})
		if !bulk {
			t.Errorf("brink never posted /api/client/metrics/bulk upstream (202); calls: %+v", rec.calls())
		}
	})

	t.Run("registration-reaches-unleash", func(t *testing.T) {
		inst := waitApplication(t, u, app, 40*time.Second)
		if !slices.ContainsFunc(inst, func(i testenv.AppInstance) bool { return i.InstanceID == "edge-e2e-1" }) {
			t.Errorf("Unleash's instances of %s: %+v, want instance edge-e2e-1", app, inst)
		}
	})
}
