package upstream

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/brink-edge/brink/flags"
)

// Defaults of MetricsConfig.
const (
	DefaultMetricsInterval = 60 * time.Second
	// DefaultMaxBodyBytes keeps every post under the 100 KiB body limit of
	// Unleash, as Unleash Edge does.
	DefaultMaxBodyBytes    = 95 * 1024
	DefaultMaxPendingBytes = 16 << 20
	DefaultMaxInFlight     = 16
)

// Errors of the metrics forwarder. (They live here rather than in
// errors.go, which belongs to the client.)
var (
	ErrNoPoster     = errors.New("upstream: metrics forwarder needs a poster")
	ErrNoAggregator = errors.New("upstream: metrics forwarder needs an aggregator")
	ErrNoTokenFor   = errors.New("upstream: metrics forwarder needs TokenFor")
	ErrMetricsLimit = errors.New("upstream: metrics forwarder limits must not be negative, and MaxBodyBytes must hold an empty bulk body")
	// ErrMetricsPending is returned by Flush when metrics remain unsent.
	ErrMetricsPending = errors.New("upstream: metrics left pending")
	errPosterNoStatus = errors.New("upstream: poster returned neither a status nor an error")
)

// MetricsPoster is what the forwarder needs from the upstream client (the
// client's *Client implements it).
type MetricsPoster interface {
	// PostBulkMetrics posts body (a bulk metrics JSON document) to
	// /api/client/metrics/bulk with token. status is the HTTP status when an
	// answer arrived, whatever err says; status 0 means no answer (a network
	// failure), which the forwarder retries in place. body must not be
	// modified.
	PostBulkMetrics(ctx context.Context, token string, body []byte) (status int, err error)
}

var _ MetricsPoster = (*Client)(nil)

// MetricsConfig configures a MetricsForwarder.
type MetricsConfig struct {
	// Poster sends the bulk posts upstream. Required.
	Poster MetricsPoster
	// Aggregator holds the counts and registrations SDKs sent; each send
	// drains it. Required.
	Aggregator *flags.MetricsAggregator
	// TokenFor returns the token used to post an environment's metrics
	// upstream (the first startup/refresh client token for that
	// environment); false drops that environment's batch, counted under
	// reason "no_token". Required; called on the send goroutine.
	TokenFor func(env string) (string, bool)
	// Interval is the base send interval (METRICS_INTERVAL_SECONDS); the
	// forwarder waits Interval×(1+failures). Zero means
	// DefaultMetricsInterval.
	Interval time.Duration
	// MaxBodyBytes bounds every post: bodies are strictly smaller. Zero
	// means DefaultMaxBodyBytes. An entry that cannot fit alone is dropped
	// (reason "too_large").
	MaxBodyBytes int
	// MaxPendingBytes bounds the memory of re-queued, unsent entries,
	// measured as their JSON size plus a fixed bookkeeping cost each;
	// beyond it the oldest are dropped (reason "overflow"), counts before
	// registrations. Zero means DefaultMaxPendingBytes.
	MaxPendingBytes int
	// MaxInFlight bounds the posts in flight per environment. Zero means
	// DefaultMaxInFlight.
	MaxInFlight int
	// Logger receives one line per send round that had trouble; nil
	// discards.
	Logger *slog.Logger
}

// DroppedStats counts the entries (feature counts plus registrations) the
// forwarder dropped, by reason.
type DroppedStats struct {
	// NoToken: no upstream token for the environment.
	NoToken uint64
	// Rejected: the upstream answered 400, or the entry could not be
	// encoded.
	Rejected uint64
	// TooLarge: the upstream answered 413, or the entry alone exceeds
	// MaxBodyBytes.
	TooLarge uint64
	// Unauthorized: the upstream answered 401, 403 or 404.
	Unauthorized uint64
	// Overflow: evicted, oldest first, to keep MaxPendingBytes.
	Overflow uint64
}

// ForwarderStats are the counters of a MetricsForwarder.
type ForwarderStats struct {
	// SentBatches and SentBytes count the posts the upstream accepted.
	SentBatches, SentBytes uint64
	// PendingBytes, PendingKeys and PendingApplications describe the
	// re-queued entries waiting for the next send; PendingLimitBytes is
	// MaxPendingBytes.
	PendingBytes, PendingKeys, PendingApplications, PendingLimitBytes int
	// Dropped counts dropped entries by reason.
	Dropped DroppedStats
	// Requeued counts entries put back for a later send.
	Requeued uint64
	// Retries counts in-place retries after network failures.
	Retries uint64
	// FailedPosts counts posts that finally did not succeed.
	FailedPosts uint64
	// Failures is the backoff counter and Interval the current wait between
	// sends, base×(1+Failures).
	Failures int
	Interval time.Duration
}

type metricsDrop uint8

const (
	dropNoToken metricsDrop = iota
	dropRejected
	dropTooLarge
	dropUnauthorized
	dropOverflow
	numDropReasons
)

// Package-level series, registered once; the forwarder only sets and
// increments them.
var (
	pendingBytesGauge = metrics.NewGauge(`brink_metrics_pending_bytes`, nil)
	pendingLimitGauge = metrics.NewGauge(`brink_metrics_pending_limit_bytes`, nil)
	droppedTotal      = [numDropReasons]*metrics.Counter{
		dropNoToken:      metrics.NewCounter(`brink_metrics_dropped_total{reason="no_token"}`),
		dropRejected:     metrics.NewCounter(`brink_metrics_dropped_total{reason="rejected"}`),
		dropTooLarge:     metrics.NewCounter(`brink_metrics_dropped_total{reason="too_large"}`),
		dropUnauthorized: metrics.NewCounter(`brink_metrics_dropped_total{reason="unauthorized"}`),
		dropOverflow:     metrics.NewCounter(`brink_metrics_dropped_total{reason="overflow"}`),
	}
)

// Retry and backoff rules of Unleash Edge (send_unleash_metrics.rs).
const (
	metricsMaxRetries   = 5
	metricsBaseBackoff  = 50 * time.Millisecond
	metricsMaxBackoff   = 2 * time.Second
	metricsAuthFailures = 10
	// metricsMaxFailures bounds the stretch. Unleash Edge adds one per failed
	// slice without bound, so one bad round of many slices would park the
	// metrics for hours; 20 keeps the wait at 21× at most.
	metricsMaxFailures = 20
	// pendingEntryOverhead approximates the memory a pending entry costs beyond
	// its JSON: the pendingEntry and the decoded struct's headers.
	pendingEntryOverhead = 256
)

// The fixed parts of a bulk body: {"applications":[…],"metrics":[…]}.
const (
	bulkHead        = `{"applications":[`
	bulkMetricsHead = `],"metrics":[`
	bulkTail        = `]}`
	bulkAppsTail    = bulkMetricsHead + bulkTail
	bulkOverhead    = len(bulkHead + bulkAppsTail)
)

// MetricsForwarder drains a flags.MetricsAggregator every interval and posts
// its content upstream per environment, in bodies under MaxBodyBytes, with
// Unleash Edge's retry, drop and backoff rules; what fails transiently is
// re-queued and merged into the next send. Its methods are safe to call
// from concurrently running goroutines; sends are serialised.
type MetricsForwarder struct {
	cfg MetricsConfig
	log *slog.Logger
	// wait is Run's wait between sends and sleep the in-place retry
	// backoff; tests replace them.
	wait, sleep func(ctx context.Context, d time.Duration) error
	// round serialises sends (Run's and Flush's).
	round chan struct{}

	mu                       sync.Mutex
	pending                  []pendingEntry // min-heap, oldest first
	pendingBytes             int
	pendingKeys, pendingApps int
	failures                 int

	sentBatches, sentBytes         atomic.Uint64
	requeued, retries, failedPosts atomic.Uint64
	dropped                        [numDropReasons]atomic.Uint64
}

// NewMetricsForwarder fills cfg's defaults and checks it.
func NewMetricsForwarder(cfg MetricsConfig) (*MetricsForwarder, error) {
	switch {
	case cfg.Poster == nil:
		return nil, ErrNoPoster
	case cfg.Aggregator == nil:
		return nil, ErrNoAggregator
	case cfg.TokenFor == nil:
		return nil, ErrNoTokenFor
	case cfg.Interval < 0, cfg.MaxPendingBytes < 0, cfg.MaxInFlight < 0,
		cfg.MaxBodyBytes < 0, cfg.MaxBodyBytes > 0 && cfg.MaxBodyBytes <= bulkOverhead+2:
		return nil, ErrMetricsLimit
	}
	cfg.Interval = cmp.Or(cfg.Interval, DefaultMetricsInterval)
	cfg.MaxBodyBytes = cmp.Or(cfg.MaxBodyBytes, DefaultMaxBodyBytes)
	cfg.MaxPendingBytes = cmp.Or(cfg.MaxPendingBytes, DefaultMaxPendingBytes)
	cfg.MaxInFlight = cmp.Or(cfg.MaxInFlight, DefaultMaxInFlight)
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	pendingLimitGauge.Set(float64(cfg.MaxPendingBytes))
	return &MetricsForwarder{
		cfg: cfg, log: log, wait: metricsSleep, sleep: metricsSleep,
		round: make(chan struct{}, 1),
	}, nil
}

func metricsSleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Run sends every Interval×(1+failures) until ctx is done. It does not
// flush on the way out: call Flush with a shutdown context for that.
func (f *MetricsForwarder) Run(ctx context.Context) {
	for {
		if f.wait(ctx, f.interval()) != nil {
			return
		}
		_ = f.send(ctx)
	}
}

// Flush sends everything pending now, bounded by ctx; what fails is
// re-queued, and reported with ErrMetricsPending.
func (f *MetricsForwarder) Flush(ctx context.Context) error {
	if err := f.send(ctx); err != nil {
		return fmt.Errorf("flushing metrics: %w", err)
	}
	f.mu.Lock()
	keys, apps := f.pendingKeys, f.pendingApps
	f.mu.Unlock()
	if keys+apps == 0 {
		return nil
	}
	err := fmt.Errorf("flushing metrics: %w: %d counts and %d registrations", ErrMetricsPending, keys, apps)
	if ctx.Err() != nil {
		err = fmt.Errorf("%w (%w)", err, ctx.Err())
	}
	return err
}

// Stats returns the forwarder's counters.
func (f *MetricsForwarder) Stats() ForwarderStats {
	f.mu.Lock()
	st := ForwarderStats{
		PendingBytes: f.pendingBytes, PendingKeys: f.pendingKeys, PendingApplications: f.pendingApps,
		PendingLimitBytes: f.cfg.MaxPendingBytes,
		Failures:          f.failures, Interval: f.cfg.Interval * time.Duration(1+f.failures),
	}
	f.mu.Unlock()
	st.SentBatches, st.SentBytes = f.sentBatches.Load(), f.sentBytes.Load()
	st.Requeued, st.Retries, st.FailedPosts = f.requeued.Load(), f.retries.Load(), f.failedPosts.Load()
	st.Dropped = DroppedStats{
		NoToken: f.dropped[dropNoToken].Load(), Rejected: f.dropped[dropRejected].Load(),
		TooLarge: f.dropped[dropTooLarge].Load(), Unauthorized: f.dropped[dropUnauthorized].Load(),
		Overflow: f.dropped[dropOverflow].Load(),
	}
	return st
}

func (f *MetricsForwarder) interval() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cfg.Interval * time.Duration(1+f.failures)
}

func (f *MetricsForwarder) drop(r metricsDrop, n int) {
	if n > 0 {
		f.dropped[r].Add(uint64(n))
		droppedTotal[r].Add(n)
	}
}

// envMetrics is what one environment sends in a round.
type envMetrics struct {
	env     string
	apps    []flags.ClientApplication
	metrics []flags.ClientMetricsEnv
}

// bulkSpan is the entries of one body: apps[appLo:appHi], metrics[metLo:metHi],
// less those dropped while encoding; items counts what the body holds.
type bulkSpan struct{ appLo, appHi, metLo, metHi, items int }

type postOutcome uint8

const (
	postSent         postOutcome = iota
	postDropped                  // 400, 413: dropped, no backoff
	postUnauthorized             // 401, 403, 404: dropped, failures = 10
	postBackoff                  // 429, 5xx: re-queued, failures = max(10, failures+1)
	postRequeued                 // network failure or other status: re-queued
)

type bulkJob struct {
	out    postOutcome
	status int
	err    error
}

// send runs one round: drain, merge the re-queued entries, and post per
// environment.
func (f *MetricsForwarder) send(ctx context.Context) error {
	select {
	case f.round <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-f.round }()
	if err := ctx.Err(); err != nil {
		return err // leave the aggregator alone rather than re-queue it all
	}
	var jobs []*bulkJob
	for _, b := range f.collect() {
		token, ok := f.cfg.TokenFor(b.env)
		if !ok {
			f.drop(dropNoToken, len(b.apps)+len(b.metrics))
			f.log.Warn("no upstream token for the environment; metrics dropped",
				"environment", b.env, "metrics", len(b.metrics), "applications", len(b.apps))
			continue
		}
		jobs = f.sendEnv(ctx, b, token, jobs)
	}
	f.settle(jobs)
	return nil
}

// sendEnv cuts b into bodies and posts them, MaxInFlight at a time. When ctx
// ends, what is not posted yet is re-queued.
func (f *MetricsForwarder) sendEnv(ctx context.Context, b *envMetrics, token string, jobs []*bulkJob) []*bulkJob {
	s := newBulkSlicer(f.cfg.MaxBodyBytes, b)
	sem := make(chan struct{}, f.cfg.MaxInFlight)
	var wg sync.WaitGroup
	for {
		if ctx.Err() == nil {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
			}
		}
		if ctx.Err() != nil {
			oversize, invalid := f.requeue(b, s.rest())
			s.oversize, s.invalid = s.oversize+oversize, s.invalid+invalid
			break
		}
		body, sp, ok := s.next()
		if !ok {
			break
		}
		j := &bulkJob{}
		jobs = append(jobs, j)
		wg.Go(func() {
			defer func() { <-sem }()
			f.post(ctx, b, token, body, sp, j)
		})
	}
	wg.Wait()
	f.drop(dropTooLarge, s.oversize)
	f.drop(dropRejected, s.invalid)
	if s.oversize+s.invalid > 0 {
		f.log.Warn("metrics entries dropped before sending", "environment", b.env,
			"too_large", s.oversize, "unencodable", s.invalid)
	}
	return jobs
}

// post sends one body, retrying network failures in place, and handles
// the answer as Unleash Edge does.
func (f *MetricsForwarder) post(ctx context.Context, b *envMetrics, token string, body []byte, sp bulkSpan, j *bulkJob) {
	for attempt := 0; ; attempt++ {
		status, err := f.cfg.Poster.PostBulkMetrics(ctx, token, body)
		j.status, j.err = status, err
		if status != 0 {
			break
		}
		if err == nil {
			j.err = errPosterNoStatus
		}
		if attempt >= metricsMaxRetries || ctx.Err() != nil || f.sleep(ctx, metricsBackoff(attempt)) != nil {
			f.failedPosts.Add(1)
			f.requeue(b, sp)
			j.out = postRequeued
			return
		}
		f.retries.Add(1)
	}
	switch s := j.status; {
	case s >= 200 && s < 300:
		f.sentBatches.Add(1)
		f.sentBytes.Add(uint64(len(body)))
		j.out = postSent
		return
	case s == 400:
		f.drop(dropRejected, sp.items)
		j.out = postDropped
	case s == 413:
		f.drop(dropTooLarge, sp.items)
		j.out = postDropped
	case s == 401, s == 403, s == 404:
		f.drop(dropUnauthorized, sp.items)
		j.out = postUnauthorized
	case s == 429, s >= 500:
		f.requeue(b, sp)
		j.out = postBackoff
	default:
		f.requeue(b, sp)
		j.out = postRequeued
	}
	f.failedPosts.Add(1)
}

// backoff is the wait before in-place retry attempt+1: 50 ms·2^attempt,
// at most 2 s, plus up to 20 % jitter.
func metricsBackoff(attempt int) time.Duration {
	d := min(metricsBaseBackoff<<attempt, metricsMaxBackoff)
	return d + time.Duration(rand.Int64N(int64(d)/5+1))
}

// settle applies the round's outcomes to the backoff counter in slice
// order, as Unleash Edge does, and logs one line when something failed.
func (f *MetricsForwarder) settle(jobs []*bulkJob) {
	var n [postRequeued + 1]int
	var last *bulkJob
	f.mu.Lock()
	for _, j := range jobs {
		n[j.out]++
		switch j.out {
		case postSent:
			f.failures = max(0, f.failures-1)
		case postUnauthorized:
			f.failures = metricsAuthFailures
		case postBackoff:
			f.failures = min(metricsMaxFailures, max(metricsAuthFailures, f.failures+1))
		}
		if j.out != postSent {
			last = j
		}
	}
	failures := f.failures
	f.mu.Unlock()
	if last != nil {
		f.log.Warn("metrics post failed", "sent", n[postSent], "dropped", n[postDropped]+n[postUnauthorized],
			"requeued", n[postBackoff]+n[postRequeued], "last_status", last.status, "last_error", last.err,
			"next_in", f.cfg.Interval*time.Duration(1+failures))
	}
}

// bulkSlicer cuts an envMetrics into bodies, registrations first (Unleash must
// know an application before its counts), each entry encoded once.
type bulkSlicer struct {
	max    int
	b      *envMetrics
	ai, mi int  // next registration and count to take
	have   bool // item holds the encoding of the next entry
	item   bytes.Buffer
	enc    *json.Encoder
	body   []byte
	// oversize and invalid count entries dropped: too large alone, or not
	// encodable.
	oversize, invalid int
}

func newBulkSlicer(maxBody int, b *envMetrics) *bulkSlicer {
	s := &bulkSlicer{max: maxBody, b: b}
	s.enc = json.NewEncoder(&s.item)
	s.enc.SetEscapeHTML(false)
	return s
}

// rest is everything not yet put in a body.
func (s *bulkSlicer) rest() bulkSpan {
	return bulkSpan{appLo: s.ai, appHi: len(s.b.apps), metLo: s.mi, metHi: len(s.b.metrics)}
}

// peek encodes the next entry that fits a body alone, dropping those that
// do not.
func (s *bulkSlicer) peek() (item []byte, isApp, ok bool) {
	for {
		var v any
		switch {
		case s.ai < len(s.b.apps):
			v, isApp = &s.b.apps[s.ai], true
		case s.mi < len(s.b.metrics):
			v = &s.b.metrics[s.mi]
		default:
			return nil, false, false
		}
		if !s.have {
			s.item.Reset()
			if s.enc.Encode(v) != nil {
				s.invalid++
				s.skip(isApp)
				continue
			}
			s.have = true
		}
		item = s.item.Bytes()
		item = item[:len(item)-1] // Encode's newline
		if bulkOverhead+len(item) < s.max {
			return item, isApp, true
		}
		s.oversize++
		s.skip(isApp)
	}
}

func (s *bulkSlicer) skip(isApp bool) {
	s.have = false
	if isApp {
		s.ai++
	} else {
		s.mi++
	}
}

// next returns the next body, a fresh allocation (the poster may hold it
// after returning, as net/http may), and the entries it holds.
func (s *bulkSlicer) next() ([]byte, bulkSpan, bool) {
	sp := bulkSpan{appLo: s.ai, metLo: s.mi}
	s.body = append(s.body[:0], bulkHead...)
	apps, counts := 0, 0
	for {
		item, isApp, ok := s.peek()
		if !ok {
			break
		}
		var sep string
		switch {
		case isApp && apps > 0, !isApp && counts > 0:
			sep = ","
		case !isApp:
			sep = bulkMetricsHead
		}
		tail := len(bulkTail)
		if isApp {
			tail = len(bulkAppsTail)
		}
		if len(s.body)+len(sep)+len(item)+tail >= s.max {
			break // peek guarantees an entry fits an empty body
		}
		s.body = append(append(s.body, sep...), item...)
		if isApp {
			apps++
		} else {
			counts++
		}
		s.skip(isApp)
	}
	if apps+counts == 0 {
		return nil, sp, false
	}
	if counts == 0 {
		s.body = append(s.body, bulkAppsTail...)
	} else {
		s.body = append(s.body, bulkTail...)
	}
	sp.appHi, sp.metHi, sp.items = s.ai, s.mi, apps+counts
	return bytes.Clone(s.body), sp, true
}

// pendingEntry is a re-queued registration (app set) or count.
type pendingEntry struct {
	app  *flags.ClientApplication
	m    flags.ClientMetricsEnv
	at   int64 // Unix seconds of the count's hour or the app's start
	size int
}

// older orders eviction: counts before registrations, each oldest first.
func (x *pendingEntry) older(y *pendingEntry) bool {
	if (x.app == nil) != (y.app == nil) {
		return x.app == nil
	}
	return x.at < y.at
}

// requeue puts the entries of sp back in the pending state, evicting the
// oldest beyond MaxPendingBytes. Entries too large to send alone or not
// encodable are left out and counted in the results; in a span the slicer
// has cut, those are the ones it dropped already.
func (f *MetricsForwarder) requeue(b *envMetrics, sp bulkSpan) (oversize, invalid int) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	size := func(v any) (int, bool) {
		buf.Reset()
		if enc.Encode(v) != nil {
			invalid++
			return 0, false
		}
		n := buf.Len() - 1
		if bulkOverhead+n >= f.cfg.MaxBodyBytes {
			oversize++
			return 0, false
		}
		return n + 1 + pendingEntryOverhead, true
	}
	items := make([]pendingEntry, 0, sp.appHi-sp.appLo+sp.metHi-sp.metLo)
	for i := sp.appLo; i < sp.appHi; i++ {
		if n, ok := size(&b.apps[i]); ok {
			app := b.apps[i]
			items = append(items, pendingEntry{app: &app, at: app.Started.Unix(), size: n})
		}
	}
	for i := sp.metLo; i < sp.metHi; i++ {
		if n, ok := size(&b.metrics[i]); ok {
			items = append(items, pendingEntry{m: b.metrics[i], at: b.metrics[i].Timestamp.Unix(), size: n})
		}
	}
	evicted := 0
	f.mu.Lock()
	for i := range items {
		f.push(items[i])
		for f.pendingBytes > f.cfg.MaxPendingBytes {
			f.pop()
			evicted++
		}
	}
	pendingBytesGauge.Set(float64(f.pendingBytes))
	f.mu.Unlock()
	f.requeued.Add(uint64(len(items)))
	f.drop(dropOverflow, evicted)
	return oversize, invalid
}

// push and pop keep f.pending a min-heap by older; f.mu is held.
func (f *MetricsForwarder) push(it pendingEntry) {
	f.account(&it, 1)
	h := append(f.pending, it)
	for i := len(h) - 1; i > 0; {
		p := (i - 1) / 2
		if !h[i].older(&h[p]) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
	f.pending = h
}

func (f *MetricsForwarder) pop() {
	h := f.pending
	f.account(&h[0], -1)
	last := len(h) - 1
	h[0] = h[last]
	h[last] = pendingEntry{}
	h = h[:last]
	for i := 0; ; {
		c := 2*i + 1
		if c >= len(h) {
			break
		}
		if c+1 < len(h) && h[c+1].older(&h[c]) {
			c++
		}
		if !h[c].older(&h[i]) {
			break
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
	f.pending = h
}

func (f *MetricsForwarder) account(it *pendingEntry, sign int) {
	f.pendingBytes += sign * it.size
	if it.app != nil {
		f.pendingApps += sign
	} else {
		f.pendingKeys += sign
	}
}

type countKey struct {
	app, feature, env string
	hour              int64
}

type registrationKey struct{ app, instance string }

// collect drains the aggregator, takes the pending entries, merges them
// (summing counts of the same key, so nothing is counted twice) and
// groups the result by environment, sorted by name. Counts of zero are
// left out, as Unleash Edge does.
func (f *MetricsForwarder) collect() []*envMetrics {
	bulk := f.cfg.Aggregator.Drain()
	f.mu.Lock()
	pend := f.pending
	f.pending, f.pendingBytes, f.pendingKeys, f.pendingApps = nil, 0, 0, 0
	pendingBytesGauge.Set(0)
	f.mu.Unlock()
	for i := range bulk.Applications {
		a := &bulk.Applications[i]
		a.Environment = cmp.Or(a.Environment, flags.DefaultEnvironment)
		// Unleash requires instanceId; "default" is the aggregator's key.
		a.InstanceID = cmp.Or(a.InstanceID, "default")
	}
	for i := range bulk.Metrics {
		bulk.Metrics[i].Environment = cmp.Or(bulk.Metrics[i].Environment, flags.DefaultEnvironment)
	}
	if len(pend) > 0 {
		bulk = mergePending(bulk, pend)
	}
	metricsByEnv := groupByEnv(bulk.Metrics, func(m *flags.ClientMetricsEnv) string { return m.Environment })
	appsByEnv := groupByEnv(bulk.Applications, func(a *flags.ClientApplication) string { return a.Environment })
	envs := make(map[string]*envMetrics, len(metricsByEnv)+len(appsByEnv))
	get := func(env string) *envMetrics {
		if envs[env] == nil {
			envs[env] = &envMetrics{env: env}
		}
		return envs[env]
	}
	for env, ms := range metricsByEnv {
		ms = slices.DeleteFunc(ms, func(m flags.ClientMetricsEnv) bool { return m.Yes == 0 && m.No == 0 })
		for i := range ms {
			if ms[i].Variants == nil {
				ms[i].Variants = map[string]uint32{} // Unleash rejects null
			}
		}
		if len(ms) > 0 {
			get(env).metrics = ms
		}
	}
	for env, apps := range appsByEnv {
		get(env).apps = apps
	}
	out := slices.Collect(maps.Values(envs))
	slices.SortFunc(out, func(x, y *envMetrics) int { return strings.Compare(x.env, y.env) })
	return out
}

// groupByEnv sorts s by key, stably, and returns the runs per key, which
// share s's memory.
func groupByEnv[T any](s []T, key func(*T) string) map[string][]T {
	slices.SortStableFunc(s, func(x, y T) int { return strings.Compare(key(&x), key(&y)) })
	runs := make(map[string][]T)
	for i := 0; i < len(s); {
		k := key(&s[i])
		j := i + 1
		for j < len(s) && key(&s[j]) == k {
			j++
		}
		runs[k] = s[i:j:j]
		i = j
	}
	return runs
}

// merge folds re-queued entries into a fresh drain: counts of the same key
// are summed, a registration drained again keeps its newer fields and the
// union of strategies.
func mergePending(bulk flags.BulkMetrics, pend []pendingEntry) flags.BulkMetrics {
	counts := make(map[countKey]*pendingEntry)
	apps := make(map[registrationKey]*pendingEntry)
	for i := range pend {
		p := &pend[i]
		if p.app != nil {
			apps[registrationKey{p.app.AppName, p.app.InstanceID}] = p
		} else {
			counts[countKeyOf(&p.m)] = p
		}
	}
	for i := range bulk.Metrics {
		m := &bulk.Metrics[i]
		p, ok := counts[countKeyOf(m)]
		if !ok {
			continue
		}
		delete(counts, countKeyOf(m))
		m.Yes, m.No = addCount(m.Yes, p.m.Yes), addCount(m.No, p.m.No)
		if m.Variants == nil {
			m.Variants = map[string]uint32{}
		}
		for v, n := range p.m.Variants {
			if _, seen := m.Variants[v]; seen || len(m.Variants) < flags.DefaultMaxVariantsPerKey {
				m.Variants[v] = addCount(m.Variants[v], n)
			}
		}
	}
	for i := range bulk.Applications {
		a := &bulk.Applications[i]
		k := registrationKey{a.AppName, a.InstanceID}
		if p, ok := apps[k]; ok {
			delete(apps, k)
			for _, s := range p.app.Strategies {
				if !slices.Contains(a.Strategies, s) {
					a.Strategies = append(a.Strategies, s)
				}
			}
		}
	}
	for i := range pend {
		p := &pend[i]
		if p.app != nil {
			if _, ok := apps[registrationKey{p.app.AppName, p.app.InstanceID}]; ok {
				bulk.Applications = append(bulk.Applications, *p.app)
			}
		} else if _, ok := counts[countKeyOf(&p.m)]; ok {
			bulk.Metrics = append(bulk.Metrics, p.m)
		}
	}
	return bulk
}

func countKeyOf(m *flags.ClientMetricsEnv) countKey {
	return countKey{m.AppName, m.FeatureName, m.Environment, m.Timestamp.Unix() / 3600}
}

func addCount(a, b uint32) uint32 {
	if s := a + b; s >= a {
		return s
	}
	return math.MaxUint32
}
