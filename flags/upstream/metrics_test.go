package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/brink-edge/brink/flags"
)

// fakePoster answers posts with answer (202 when nil), records every post
// and the most posts it saw in flight at once.
type fakePoster struct {
	answer func(call int, token string, body []byte) (int, error)

	mu    sync.Mutex
	posts []fakePost

	calls, inFlight, maxInFlight atomic.Int32
}

type fakePost struct {
	token  string
	body   []byte
	status int
}

func (p *fakePoster) PostBulkMetrics(ctx context.Context, token string, body []byte) (int, error) {
	call := int(p.calls.Add(1))
	cur := p.inFlight.Add(1)
	defer p.inFlight.Add(-1)
	for m := p.maxInFlight.Load(); cur > m && !p.maxInFlight.CompareAndSwap(m, cur); m = p.maxInFlight.Load() {
	}
	status, err := 202, error(nil)
	if p.answer != nil {
		status, err = p.answer(call, token, body)
	}
	p.mu.Lock()
	p.posts = append(p.posts, fakePost{token: token, body: body, status: status})
	p.mu.Unlock()
	return status, err
}

// sent returns the posts answered 2xx.
func (p *fakePoster) sent() []fakePost {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []fakePost
	for _, q := range p.posts {
		if q.status >= 200 && q.status < 300 {
			out = append(out, q)
		}
	}
	return out
}

var errConnRefused = errors.New("connection refused")

var testTokens = map[string]string{
	"development": "*:development.dev-secret",
	"production":  "*:production.prod-secret",
}

func tokenFor(env string) (string, bool) {
	t, ok := testTokens[env]
	return t, ok
}

// newTestForwarder returns a forwarder whose waits and retry sleeps return
// at once; the retry sleeps are recorded in *sleeps.
func newTestForwarder(t *testing.T, cfg MetricsConfig) (*MetricsForwarder, *[]time.Duration) {
	t.Helper()
	if cfg.Aggregator == nil {
		cfg.Aggregator = flags.NewMetricsAggregator(flags.MetricsConfig{})
	}
	if cfg.TokenFor == nil {
		cfg.TokenFor = tokenFor
	}
	f, err := NewMetricsForwarder(cfg)
	if err != nil {
		t.Fatalf("NewMetricsForwarder: %v", err)
	}
	var mu sync.Mutex
	sleeps := new([]time.Duration)
	f.sleep = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		*sleeps = append(*sleeps, d)
		mu.Unlock()
		return ctx.Err()
	}
	f.wait = func(ctx context.Context, _ time.Duration) error { return ctx.Err() }
	return f, sleeps
}

var baseHour = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

// testCount is the i-th of a family of distinct counts.
func testCount(i int, env string) flags.ClientMetricsEnv {
	m := flags.ClientMetricsEnv{
		FeatureName: "feature-" + strconv.Itoa(i), AppName: "app-" + strconv.Itoa(i%50),
		Environment: env, Timestamp: baseHour.Add(time.Duration(i%3) * time.Hour),
		Yes: uint32(i%7 + 1), No: uint32(i % 3),
	}
	if i%10 == 0 {
		m.Variants = map[string]uint32{"blue": m.Yes}
	}
	return m
}

func addCounts(t *testing.T, agg *flags.MetricsAggregator, counts []flags.ClientMetricsEnv) {
	t.Helper()
	if dropped := agg.AddBulk("", nil, &flags.BulkMetrics{Metrics: counts}); dropped != 0 {
		t.Fatalf("AddBulk dropped %d", dropped)
	}
}

func testApp(i int, env string) flags.ClientApplication {
	return flags.ClientApplication{
		AppName: "app-" + strconv.Itoa(i), InstanceID: "instance-" + strconv.Itoa(i), Environment: env,
		Interval: 15000, Started: baseHour, Strategies: []string{"default", "flexibleRollout"},
		MetricsMetadata: flags.MetricsMetadata{SDKVersion: "unleash-client-node:6.1.0"},
	}
}

type tallyKey struct {
	app, feature, env string
	hour              int64
}

type tallyVal struct {
	yes, no  uint64
	variants map[string]uint64
	seen     int
}

// wireBulk is the part of a bulk body tally reads, kept light: a 100,000
// key tally under the race detector is mostly decoding.
type wireBulk struct {
	Applications []struct {
		AppName     string `json:"appName"`
		InstanceID  string `json:"instanceId"`
		Environment string `json:"environment"`
	} `json:"applications"`
	Metrics []struct {
		FeatureName string          `json:"featureName"`
		AppName     string          `json:"appName"`
		Environment string          `json:"environment"`
		Timestamp   time.Time       `json:"timestamp"`
		Yes         uint32          `json:"yes"`
		No          uint32          `json:"no"`
		Variants    json.RawMessage `json:"variants"`
	} `json:"metrics"`
}

// tally sums the counts of posts, checking each body against maxBody and
// each entry's environment against its token.
func tally(t *testing.T, posts []fakePost, maxBody int) (map[tallyKey]*tallyVal, map[string]int) {
	t.Helper()
	counts := map[tallyKey]*tallyVal{}
	apps := map[string]int{}
	for _, p := range posts {
		if len(p.body) >= maxBody {
			t.Errorf("body of %d bytes, want < %d", len(p.body), maxBody)
		}
		var b wireBulk
		if err := json.Unmarshal(p.body, &b); err != nil {
			t.Fatalf("body does not decode: %v", err)
		}
		for _, a := range b.Applications {
			if testTokens[a.Environment] != p.token {
				t.Errorf("registration of %q posted with token %q", a.Environment, p.token)
			}
			apps[a.AppName+"/"+a.InstanceID]++
		}
		for _, m := range b.Metrics {
			if testTokens[m.Environment] != p.token {
				t.Errorf("count of %q posted with token %q", m.Environment, p.token)
			}
			k := tallyKey{m.AppName, m.FeatureName, m.Environment, m.Timestamp.Unix() / 3600}
			v := counts[k]
			if v == nil {
				v = &tallyVal{}
				counts[k] = v
			}
			v.yes += uint64(m.Yes)
			v.no += uint64(m.No)
			v.seen++
			if string(m.Variants) == "{}" {
				continue
			}
			var variants map[string]uint32
			if err := json.Unmarshal(m.Variants, &variants); err != nil || variants == nil {
				t.Fatalf("variants %s: not an object (%v)", m.Variants, err)
			}
			for name, n := range variants {
				if v.variants == nil {
					v.variants = map[string]uint64{}
				}
				v.variants[name] += uint64(n)
			}
		}
	}
	return counts, apps
}

// checkTally checks that every count of want was posted exactly once.
func checkTally(t *testing.T, got map[tallyKey]*tallyVal, want []flags.ClientMetricsEnv) {
	t.Helper()
	wantSum := map[tallyKey]*tallyVal{}
	for _, m := range want {
		k := tallyKey{m.AppName, m.FeatureName, m.Environment, m.Timestamp.Unix() / 3600}
		v := wantSum[k]
		if v == nil {
			v = &tallyVal{}
			wantSum[k] = v
		}
		v.yes += uint64(m.Yes)
		v.no += uint64(m.No)
		for name, n := range m.Variants {
			if v.variants == nil {
				v.variants = map[string]uint64{}
			}
			v.variants[name] += uint64(n)
		}
	}
	if len(got) != len(wantSum) {
		t.Errorf("posted %d keys, want %d", len(got), len(wantSum))
	}
	bad := 0
	for k, w := range wantSum {
		g := got[k]
		switch {
		case g == nil:
			t.Errorf("key %v never posted", k)
		case g.seen != 1:
			t.Errorf("key %v posted %d times", k, g.seen)
		case g.yes != w.yes || g.no != w.no || !maps.Equal(g.variants, w.variants):
			t.Errorf("key %v posted yes=%d no=%d variants=%v, want yes=%d no=%d variants=%v", k, g.yes, g.no, g.variants, w.yes, w.no, w.variants)
		default:
			continue
		}
		if bad++; bad > 5 {
			t.Fatal("too many errors")
		}
	}
}

func TestMetricsForwardSplits100kKeys(t *testing.T) {
	keys, regs := 100_000, 3_000
	if testing.Short() {
		keys = 20_000 // the full size takes seconds under -race
	}
	agg := flags.NewMetricsAggregator(flags.MetricsConfig{AppName: "brink", InstanceID: "brink-1"})
	want := make([]flags.ClientMetricsEnv, keys)
	for i := range want {
		want[i] = testCount(i, []string{"development", "production"}[i%2])
	}
	addCounts(t, agg, want)
	for i := range regs {
		agg.Register(testApp(i, "production"), "production", nil, "")
	}
	p := &fakePoster{}
	f, _ := newTestForwarder(t, MetricsConfig{Poster: p, Aggregator: agg})
	if err := f.Flush(context.Background()); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	posts := p.sent()
	counts, apps := tally(t, posts, DefaultMaxBodyBytes)
	checkTally(t, counts, want)
	if len(apps) != regs {
		t.Errorf("posted %d registrations, want %d", len(apps), regs)
	}
	for a, n := range apps {
		if n != 1 {
			t.Errorf("registration %s posted %d times", a, n)
		}
	}
	st := f.Stats()
	if st.SentBatches != uint64(len(posts)) || st.PendingKeys != 0 || st.Dropped != (DroppedStats{}) {
		t.Errorf("Stats = %+v, want %d batches, nothing pending or dropped", st, len(posts))
	}
	// The registrations alone need several bodies: the app list was split.
	var appBodies int
	for _, q := range posts {
		if !bytes.Contains(q.body, []byte(`{"applications":[]`)) {
			appBodies++
		}
	}
	if appBodies < 2 {
		t.Errorf("registrations in %d bodies, want them split over several", appBodies)
	}
	t.Logf("%d keys and %d registrations in %d bodies, %d bytes", keys, regs, len(posts), st.SentBytes)
}

func TestMetricsForwardGroupsByEnvironment(t *testing.T) {
	agg := flags.NewMetricsAggregator(flags.MetricsConfig{})
	var want, staging []flags.ClientMetricsEnv
	for i := range 300 {
		switch env := []string{"development", "production", "staging"}[i%3]; env {
		case "staging":
			staging = append(staging, testCount(i, env))
		default:
			want = append(want, testCount(i, env))
		}
	}
	addCounts(t, agg, append(slices.Clone(want), staging...))
	agg.Register(testApp(1, ""), "production", nil, "")
	agg.Register(testApp(2, ""), "staging", nil, "")
	agg.Register(testApp(3, ""), "", nil, "") // no environment: development
	before := droppedTotal[dropNoToken].Get()
	p := &fakePoster{}
	f, _ := newTestForwarder(t, MetricsConfig{Poster: p, Aggregator: agg, MaxBodyBytes: 4096})
	f.send(context.Background())

	counts, apps := tally(t, p.sent(), 4096)
	checkTally(t, counts, want)
	if len(apps) != 2 || apps["app-1/instance-1"] != 1 || apps["app-3/instance-3"] != 1 {
		t.Errorf("registrations posted: %v, want app-1 and app-3 once", apps)
	}
	st := f.Stats()
	if wantDrop := uint64(len(staging) + 1); st.Dropped.NoToken != wantDrop {
		t.Errorf("Dropped.NoToken = %d, want %d", st.Dropped.NoToken, wantDrop)
	}
	if got := droppedTotal[dropNoToken].Get() - before; got != uint64(len(staging)+1) {
		t.Errorf("brink_metrics_dropped_total{reason=\"no_token\"} rose by %d, want %d", got, len(staging)+1)
	}
}

func TestMetricsForwardStatus(t *testing.T) {
	type want struct {
		calls, retries, pending int
		dropped                 DroppedStats
		failures                int
	}
	const n = 20 // counts in the round, one body
	tests := []struct {
		name     string
		answers  []int // per call; 0 is a network failure
		failures int   // before the round
		want     want
	}{
		{"202", []int{202}, 0, want{calls: 1}},
		{"200 decrements", []int{200}, 4, want{calls: 1, failures: 3}},
		{"400 drops", []int{400}, 0, want{calls: 1, dropped: DroppedStats{Rejected: n}}},
		{"413 drops", []int{413}, 3, want{calls: 1, dropped: DroppedStats{TooLarge: n}, failures: 3}},
		{"401 stretches", []int{401}, 0, want{calls: 1, dropped: DroppedStats{Unauthorized: n}, failures: 10}},
		{"403 stretches", []int{403}, 15, want{calls: 1, dropped: DroppedStats{Unauthorized: n}, failures: 10}},
		{"404 stretches", []int{404}, 0, want{calls: 1, dropped: DroppedStats{Unauthorized: n}, failures: 10}},
		{"429 re-queues", []int{429}, 0, want{calls: 1, pending: n, failures: 10}},
		{"500 re-queues", []int{500}, 10, want{calls: 1, pending: n, failures: 11}},
		{"503 re-queues", []int{503}, 3, want{calls: 1, pending: n, failures: 10}},
		{"502 capped", []int{502}, 20, want{calls: 1, pending: n, failures: 20}},
		{"other status re-queues", []int{418}, 2, want{calls: 1, pending: n, failures: 2}},
		{"network then 202", []int{0, 0, 202}, 1, want{calls: 3, retries: 2, failures: 0}},
		{"network re-queues after 5 retries", []int{0, 0, 0, 0, 0, 0}, 2, want{calls: 6, retries: 5, pending: n, failures: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &fakePoster{answer: func(call int, _ string, _ []byte) (int, error) {
				if call > len(tt.answers) {
					t.Errorf("call %d, want at most %d", call, len(tt.answers))
					return 500, nil
				}
				if s := tt.answers[call-1]; s != 0 {
					return s, nil
				}
				return 0, errConnRefused
			}}
			agg := flags.NewMetricsAggregator(flags.MetricsConfig{})
			counts := make([]flags.ClientMetricsEnv, n)
			for i := range counts {
				counts[i] = testCount(i, "production")
			}
			addCounts(t, agg, counts)
			f, sleeps := newTestForwarder(t, MetricsConfig{Poster: p, Aggregator: agg, Interval: time.Second})
			f.failures = tt.failures
			f.send(context.Background())

			st := f.Stats()
			got := want{calls: int(p.calls.Load()), retries: int(st.Retries), pending: st.PendingKeys, dropped: st.Dropped, failures: st.Failures}
			if got != tt.want {
				t.Errorf("after the round: %+v, want %+v", got, tt.want)
			}
			if st.Interval != time.Duration(1+tt.want.failures)*time.Second {
				t.Errorf("Interval = %v, want %d s", st.Interval, 1+tt.want.failures)
			}
			if len(*sleeps) != tt.want.retries {
				t.Errorf("slept %d times, want %d", len(*sleeps), tt.want.retries)
			}
			if tt.want.pending > 0 && st.Requeued != uint64(tt.want.pending) {
				t.Errorf("Requeued = %d, want %d", st.Requeued, tt.want.pending)
			}
		})
	}
}

func TestMetricsForwardRetryBackoff(t *testing.T) {
	for attempt := range 8 {
		base := min(50*time.Millisecond<<attempt, 2*time.Second)
		for range 50 {
			if d := metricsBackoff(attempt); d < base || d > base+base/5 {
				t.Fatalf("metricsBackoff(%d) = %v, want in [%v, %v]", attempt, d, base, base+base/5)
			}
		}
	}
	// The five in-place retries wait 50, 100, 200, 400 and 800 ms (+jitter).
	p := &fakePoster{answer: func(int, string, []byte) (int, error) { return 0, errConnRefused }}
	f, sleeps := newTestForwarder(t, MetricsConfig{Poster: p})
	addCounts(t, f.cfg.Aggregator, []flags.ClientMetricsEnv{testCount(1, "development")})
	f.send(context.Background())
	if len(*sleeps) != 5 {
		t.Fatalf("slept %v, want 5 waits", *sleeps)
	}
	for i, d := range *sleeps {
		if base := 50 * time.Millisecond << i; d < base || d > base+base/5 {
			t.Errorf("wait %d = %v, want in [%v, %v]", i, d, base, base+base/5)
		}
	}
}

func TestMetricsForwardFailuresDecayPerBody(t *testing.T) {
	status := atomic.Int32{}
	status.Store(503)
	p := &fakePoster{answer: func(int, string, []byte) (int, error) { return int(status.Load()), nil }}
	f, _ := newTestForwarder(t, MetricsConfig{Poster: p, MaxBodyBytes: 1024, Interval: time.Minute})
	counts := make([]flags.ClientMetricsEnv, 40)
	for i := range counts {
		counts[i] = testCount(i, "production")
	}
	addCounts(t, f.cfg.Aggregator, counts)

	f.send(context.Background())
	bodies := int(p.calls.Load())
	if bodies < 3 {
		t.Fatalf("%d bodies, want several", bodies)
	}
	// Each failing body adds one beyond the floor of 10, up to the cap.
	if st := f.Stats(); st.Failures != min(metricsMaxFailures, 10+bodies-1) || st.PendingKeys != len(counts) {
		t.Fatalf("after a 503 round: failures %d, pending %d; want %d, %d", st.Failures, st.PendingKeys, min(metricsMaxFailures, 10+bodies-1), len(counts))
	}
	f.failures = 10
	status.Store(202)
	f.send(context.Background())
	st := f.Stats()
	sent := int(st.SentBatches)
	if st.Failures != max(0, 10-sent) || st.Interval != time.Duration(1+max(0, 10-sent))*time.Minute {
		t.Errorf("after %d accepted bodies: failures %d, interval %v; want %d", sent, st.Failures, st.Interval, 10-sent)
	}
	counted, _ := tally(t, p.sent(), 1024)
	checkTally(t, counted, counts)
}

func TestMetricsForwardRequeueMergesWithoutDoubleCounting(t *testing.T) {
	status := atomic.Int32{}
	status.Store(503)
	p := &fakePoster{answer: func(int, string, []byte) (int, error) { return int(status.Load()), nil }}
	f, _ := newTestForwarder(t, MetricsConfig{Poster: p})
	agg := f.cfg.Aggregator
	first := []flags.ClientMetricsEnv{testCount(0, "production"), testCount(1, "production"), testCount(2, "development")}
	addCounts(t, agg, first)
	app := testApp(7, "production")
	agg.Register(app, "production", nil, "")

	f.send(context.Background())
	if st := f.Stats(); st.PendingKeys != 3 || st.PendingApplications != 1 || st.PendingBytes == 0 {
		t.Fatalf("after 503: %+v, want 3 counts and 1 registration pending", st)
	}
	// More of the same keys, one new key, and the app again with another
	// strategy arrive before the next round.
	second := []flags.ClientMetricsEnv{testCount(0, "production"), testCount(2, "development"), testCount(3, "production")}
	addCounts(t, agg, second)
	app.Strategies = []string{"userWithId"}
	agg.Register(app, "production", nil, "")
	status.Store(202)
	f.send(context.Background())

	counts, apps := tally(t, p.sent(), DefaultMaxBodyBytes)
	checkTally(t, counts, append(first, second...))
	if apps["app-7/instance-7"] != 1 {
		t.Errorf("registration posted %d times, want once", apps["app-7/instance-7"])
	}
	var b flags.BulkMetrics
	for _, q := range p.sent() {
		if err := json.Unmarshal(q.body, &b); err == nil && len(b.Applications) > 0 {
			slices.Sort(b.Applications[0].Strategies)
			if want := []string{"default", "flexibleRollout", "userWithId"}; !slices.Equal(b.Applications[0].Strategies, want) {
				t.Errorf("strategies %v, want %v", b.Applications[0].Strategies, want)
			}
		}
	}
	if st := f.Stats(); st.PendingKeys+st.PendingApplications != 0 || st.PendingBytes != 0 {
		t.Errorf("after 202: %+v, want nothing pending", st)
	}
}

func TestMetricsForwardFlush(t *testing.T) {
	t.Run("sends pending and fresh", func(t *testing.T) {
		status := atomic.Int32{}
		status.Store(500)
		p := &fakePoster{answer: func(int, string, []byte) (int, error) { return int(status.Load()), nil }}
		f, _ := newTestForwarder(t, MetricsConfig{Poster: p})
		first := []flags.ClientMetricsEnv{testCount(1, "production")}
		addCounts(t, f.cfg.Aggregator, first)
		f.send(context.Background())
		if err := f.Flush(context.Background()); !errors.Is(err, ErrMetricsPending) {
			t.Fatalf("Flush against a failing upstream = %v, want ErrMetricsPending", err)
		}
		second := []flags.ClientMetricsEnv{testCount(1, "production"), testCount(2, "development")}
		addCounts(t, f.cfg.Aggregator, second)
		status.Store(202)
		if err := f.Flush(context.Background()); err != nil {
			t.Fatalf("Flush: %v", err)
		}
		counts, _ := tally(t, p.sent(), DefaultMaxBodyBytes)
		checkTally(t, counts, append(first, second...))
	})
	t.Run("bounded by ctx", func(t *testing.T) {
		f, _ := newTestForwarder(t, MetricsConfig{Poster: blockingPoster{}, MaxBodyBytes: 512, MaxInFlight: 2})
		counts := make([]flags.ClientMetricsEnv, 40)
		for i := range counts {
			counts[i] = testCount(i, "production")
		}
		addCounts(t, f.cfg.Aggregator, counts)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := f.Flush(ctx)
		if !errors.Is(err, ErrMetricsPending) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Flush = %v, want ErrMetricsPending and the deadline", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("Flush took %v past its deadline", d)
		}
		if st := f.Stats(); st.PendingKeys != len(counts) {
			t.Errorf("PendingKeys = %d, want all %d re-queued", st.PendingKeys, len(counts))
		}
	})
}

// blockingPoster holds each post until ctx ends, then fails it as a
// transport does.
type blockingPoster struct{}

func (blockingPoster) PostBulkMetrics(ctx context.Context, _ string, _ []byte) (int, error) {
	<-ctx.Done()
	return 0, ctx.Err()
}

func TestMetricsForwardPendingBound(t *testing.T) {
	const limit = 40_000
	var over atomic.Int32
	var f *MetricsForwarder
	p := &fakePoster{answer: func(int, string, []byte) (int, error) {
		if f.Stats().PendingBytes > limit {
			over.Add(1)
		}
		return 503, nil
	}}
	f, _ = newTestForwarder(t, MetricsConfig{Poster: p, MaxPendingBytes: limit, MaxBodyBytes: 4096})
	before := droppedTotal[dropOverflow].Get()
	counts := make([]flags.ClientMetricsEnv, 600)
	for i := range counts {
		counts[i] = testCount(i, "production")
		counts[i].Timestamp = baseHour.Add(time.Duration(i%24) * time.Hour)
	}
	addCounts(t, f.cfg.Aggregator, counts)
	for round := range 3 {
		f.send(context.Background())
		st := f.Stats()
		if st.PendingBytes > limit || over.Load() > 0 {
			t.Fatalf("round %d: pending %d bytes (seen over %d times), limit %d", round, st.PendingBytes, over.Load(), limit)
		}
		if int(st.Dropped.Overflow)+st.PendingKeys != len(counts) {
			t.Fatalf("round %d: %d dropped + %d pending, want %d", round, st.Dropped.Overflow, st.PendingKeys, len(counts))
		}
		if g := pendingBytesGauge.Get(); g != float64(st.PendingBytes) {
			t.Errorf("brink_metrics_pending_bytes = %v, want %d", g, st.PendingBytes)
		}
	}
	st := f.Stats()
	if st.Dropped.Overflow == 0 || st.PendingKeys == 0 {
		t.Fatalf("Stats = %+v, want some dropped and some kept", st)
	}
	if got := droppedTotal[dropOverflow].Get() - before; got != st.Dropped.Overflow {
		t.Errorf("brink_metrics_dropped_total{reason=\"overflow\"} rose by %d, want %d", got, st.Dropped.Overflow)
	}
	if pendingLimitGauge.Get() != limit {
		t.Errorf("brink_metrics_pending_limit_bytes = %v, want %d", pendingLimitGauge.Get(), limit)
	}
	// The oldest went first: what is left is the newest hours.
	p.answer = nil
	f.send(context.Background())
	counted, _ := tally(t, p.sent(), 4096)
	oldestKept := int64(1 << 62)
	for k := range counted {
		oldestKept = min(oldestKept, k.hour)
	}
	var newerDropped int
	for _, m := range counts {
		k := tallyKey{m.AppName, m.FeatureName, m.Environment, m.Timestamp.Unix() / 3600}
		if counted[k] == nil && k.hour > oldestKept {
			newerDropped++
		}
	}
	if newerDropped > 0 {
		t.Errorf("%d counts newer than the oldest kept hour were dropped", newerDropped)
	}
}

func TestMetricsForwardInFlightBound(t *testing.T) {
	const limit = 4
	full := make(chan struct{})
	var once sync.Once
	p := &fakePoster{}
	p.answer = func(int, string, []byte) (int, error) {
		if p.inFlight.Load() >= limit {
			once.Do(func() { close(full) })
		}
		select { // hold posts until the bound is reached (or give up)
		case <-full:
		case <-time.After(time.Second):
		}
		return 202, nil
	}
	f, _ := newTestForwarder(t, MetricsConfig{Poster: p, MaxInFlight: limit, MaxBodyBytes: 1024})
	counts := make([]flags.ClientMetricsEnv, 200)
	for i := range counts {
		counts[i] = testCount(i, []string{"development", "production"}[i%2])
	}
	addCounts(t, f.cfg.Aggregator, counts)
	f.send(context.Background())
	if got := p.maxInFlight.Load(); got != limit {
		t.Errorf("at most %d posts in flight, want exactly %d", got, limit)
	}
	if p.calls.Load() < 2*limit {
		t.Errorf("%d posts, want many more than the bound", p.calls.Load())
	}
	counted, _ := tally(t, p.sent(), 1024)
	checkTally(t, counted, counts)
}

func TestMetricsForwardRunStretchesInterval(t *testing.T) {
	p := &fakePoster{answer: func(call int, _ string, _ []byte) (int, error) {
		if call == 1 {
			return 503, nil
		}
		return 202, nil
	}}
	f, _ := newTestForwarder(t, MetricsConfig{Poster: p, Interval: time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var waits []time.Duration
	f.wait = func(ctx context.Context, d time.Duration) error {
		waits = append(waits, d)
		if len(waits) == 4 {
			cancel()
			return ctx.Err()
		}
		addCounts(t, f.cfg.Aggregator, []flags.ClientMetricsEnv{testCount(len(waits), "production")})
		return nil
	}
	f.Run(ctx)
	want := []time.Duration{time.Second, 11 * time.Second, 10 * time.Second, 9 * time.Second}
	if !slices.Equal(waits, want) {
		t.Errorf("Run waited %v, want %v", waits, want)
	}
	if got := len(p.sent()); got != 2 {
		t.Errorf("%d accepted posts, want 2", got)
	}
}

func TestMetricsForwardDropsOversizeEntry(t *testing.T) {
	p := &fakePoster{}
	f, _ := newTestForwarder(t, MetricsConfig{Poster: p, MaxBodyBytes: 600})
	huge := testCount(1, "production")
	huge.Variants = map[string]uint32{}
	for i := range 40 {
		huge.Variants["variant-with-a-long-name-"+strconv.Itoa(i)] = 1
	}
	small := []flags.ClientMetricsEnv{testCount(2, "production"), testCount(3, "production")}
	addCounts(t, f.cfg.Aggregator, append([]flags.ClientMetricsEnv{huge}, small...))
	f.send(context.Background())
	counts, _ := tally(t, p.sent(), 600)
	checkTally(t, counts, small)
	if st := f.Stats(); st.Dropped.TooLarge != 1 {
		t.Errorf("Dropped.TooLarge = %d, want 1", st.Dropped.TooLarge)
	}
}

// TestMetricsForwardBodyShape checks the body against what Unleash's
// POST /api/client/metrics/bulk takes: applications[] as
// bulkRegistrationSchema (appName, instanceId, environment required) and
// metrics[] as clientMetricsEnvSchema (featureName, appName, environment,
// timestamp, yes, no, variants as an object).
func TestMetricsForwardBodyShape(t *testing.T) {
	agg := flags.NewMetricsAggregator(flags.MetricsConfig{AppName: "brink", InstanceID: "brink-1"})
	p := &fakePoster{}
	f, _ := newTestForwarder(t, MetricsConfig{Poster: p, Aggregator: agg})
	addCounts(t, agg, []flags.ClientMetricsEnv{testCount(10, "production"), testCount(11, "production")})
	zero := testCount(12, "production")
	zero.Yes, zero.No = 0, 0
	addCounts(t, agg, []flags.ClientMetricsEnv{zero})
	app := testApp(1, "")
	app.InstanceID = ""
	agg.Register(app, "production", []string{"default"}, "")
	f.send(context.Background())

	posts := p.sent()
	if len(posts) != 1 {
		t.Fatalf("%d posts, want 1", len(posts))
	}
	var body map[string][]map[string]any
	if err := json.Unmarshal(posts[0].body, &body); err != nil {
		t.Fatalf("body: %v", err)
	}
	if len(body) != 2 || body["applications"] == nil || body["metrics"] == nil {
		t.Fatalf("top-level keys %v, want applications and metrics", slices.Collect(maps.Keys(body)))
	}
	if len(body["metrics"]) != 2 {
		t.Errorf("%d metrics, want 2 (zero counts left out)", len(body["metrics"]))
	}
	for _, m := range body["metrics"] {
		for _, k := range []string{"featureName", "appName", "environment", "timestamp", "yes", "no", "variants"} {
			if m[k] == nil {
				t.Errorf("metric %v lacks %q", m, k)
			}
		}
		if ts, _ := m["timestamp"].(string); !strings.HasPrefix(ts, "2026-11-22T1") {
			t.Errorf("timestamp %v, want RFC 3339", m["timestamp"])
		}
		if _, ok := m["variants"].(map[string]any); !ok {
			t.Errorf("variants %v, want an object", m["variants"])
		}
	}
	a := body["applications"][0]
	for k, want := range map[string]any{"appName": "app-1", "instanceId": "default", "environment": "production",
		"interval": 15000.0, "sdkVersion": "unleash-client-node:6.1.0"} {
		if a[k] != want {
			t.Errorf("application %s = %v, want %v", k, a[k], want)
		}
	}
	for _, k := range []string{"started", "strategies", "connectVia"} {
		if a[k] == nil {
			t.Errorf("application lacks %q: %v", k, a)
		}
	}
	if via, _ := a["connectVia"].([]any); len(via) != 1 {
		t.Errorf("connectVia %v, want this edge", a["connectVia"])
	}
}

// httpPoster is a minimal HTTP poster, standing in for the client.
type httpPoster struct{ url string }

func (h httpPoster) PostBulkMetrics(ctx context.Context, token string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url+"/api/client/metrics/bulk", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

func TestMetricsForwardHTTP(t *testing.T) {
	var mu sync.Mutex
	var posts []fakePost
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.URL.Path != "/api/client/metrics/bulk" || len(body) >= 100*1024 {
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			return
		}
		mu.Lock()
		posts = append(posts, fakePost{token: r.Header.Get("Authorization"), body: body, status: 202})
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	f, sleeps := newTestForwarder(t, MetricsConfig{Poster: httpPoster{srv.URL}, MaxInFlight: 4})
	counts := make([]flags.ClientMetricsEnv, 5000)
	for i := range counts {
		counts[i] = testCount(i, []string{"development", "production"}[i%2])
	}
	addCounts(t, f.cfg.Aggregator, counts)
	if err := f.Flush(context.Background()); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	got, _ := tally(t, posts, DefaultMaxBodyBytes)
	checkTally(t, got, counts)

	// With the upstream gone, posts fail at the network level: retried
	// in place, then re-queued.
	srv.Close()
	addCounts(t, f.cfg.Aggregator, counts[:10])
	if err := f.Flush(context.Background()); !errors.Is(err, ErrMetricsPending) {
		t.Fatalf("Flush to a closed server = %v, want ErrMetricsPending", err)
	}
	if st := f.Stats(); st.PendingKeys != 10 || st.Retries != 5*uint64(st.FailedPosts) || len(*sleeps) != 5*int(st.FailedPosts) {
		t.Errorf("Stats = %+v after %d sleeps, want 10 pending and 5 retries per failed post", st, len(*sleeps))
	}
}

func TestNewMetricsForwarderChecksConfig(t *testing.T) {
	agg := flags.NewMetricsAggregator(flags.MetricsConfig{})
	ok := MetricsConfig{Poster: &fakePoster{}, Aggregator: agg, TokenFor: tokenFor}
	tests := []struct {
		name string
		edit func(*MetricsConfig)
		want error
	}{
		{"no poster", func(c *MetricsConfig) { c.Poster = nil }, ErrNoPoster},
		{"no aggregator", func(c *MetricsConfig) { c.Aggregator = nil }, ErrNoAggregator},
		{"no TokenFor", func(c *MetricsConfig) { c.TokenFor = nil }, ErrNoTokenFor},
		{"negative interval", func(c *MetricsConfig) { c.Interval = -time.Second }, ErrMetricsLimit},
		{"tiny body", func(c *MetricsConfig) { c.MaxBodyBytes = 20 }, ErrMetricsLimit},
		{"negative pending", func(c *MetricsConfig) { c.MaxPendingBytes = -1 }, ErrMetricsLimit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.edit(&c)
			if _, err := NewMetricsForwarder(c); !errors.Is(err, tt.want) {
				t.Errorf("NewMetricsForwarder = %v, want %v", err, tt.want)
			}
		})
	}
	f, err := NewMetricsForwarder(ok)
	if err != nil {
		t.Fatal(err)
	}
	if st := f.Stats(); st.Interval != DefaultMetricsInterval || st.PendingLimitBytes != DefaultMaxPendingBytes ||
		f.cfg.MaxBodyBytes != DefaultMaxBodyBytes || f.cfg.MaxInFlight != DefaultMaxInFlight {
		t.Errorf("defaults: %+v, %+v", st, f.cfg)
	}
}
