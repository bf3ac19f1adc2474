package bench

// p50/p99 of /api/frontend under load, without and during syncs of the
// whole flag state.
//
// The handler is served by a fasthttp.Server on 127.0.0.1 and loaded from
// the same process by a bounded Go load generator: conns goroutines, each
// with its own connection (fasthttp.HostClient), for a fixed duration
// after a warm-up. Latencies go into fixed log-linear buckets (64
// sub-buckets per power of two: a quantile is reported as its bucket's
// upper bound, at most 1.6 % high), one histogram per goroutine, merged
// at the end.
//
// Two load shapes, each run without syncs and while the state is refreshed
// every 200 ms the way flags/upstream refreshes it (decode the raw JSON,
// Compile, Publish), in rounds (3 in full runs) that alternate which of the
// two goes first, so that the load other users put on a shared machine
// weighs on both alike:
//
//   - closed: every goroutine sends its next request when the previous
//     answer arrived (what wrk does); the latency is the round trip.
//   - paced: every goroutine sends on a fixed schedule, together half
//     (BRINK_BENCH_PACE) the median throughput of the closed runs without
//     syncs, and the latency counts from when the request was due (so a
//     stalled server is not hidden by requests that were never sent: no
//     coordinated omission). If the machine's capacity falls below the
//     offered rate, requests queue and these latencies grow without bound:
//     compare req/s with paced-req/s.
//
// Every round is logged; the metrics are medians over the rounds: p50 and
// p99 without (-none) and with syncs (-sync), req/s of both, p99-ratio (the
// median of each round's p99 with syncs / p99 without), ms/sync (wall
// time of a sync under the load), gc-cycles-sync and gc-cpu-%-sync (GC's
// share of the process CPU as runtime/metrics estimates it at each GC).
// Paced runs add p99-sent-ratio: the same ratio for latencies counted from
// when a request was actually sent, which leaves out the load generator's
// own lateness (timer wake-ups on a busy machine) but also the queueing
// behind a stalled answer.
//
// BRINK_BENCH_FULL=1 runs 5,000 flags, 16 connections, 3 rounds of 5 s
// runs; otherwise 200 flags, 4 connections, 1 round of 300 ms runs (a
// smoke run). BRINK_BENCH_CONNS, BRINK_BENCH_DURATION (a time.Duration),
// BRINK_BENCH_ROUNDS and BRINK_BENCH_PACE (the paced rate as a fraction of
// the closed throughput without syncs, 0.5) override the full values.

import (
	"math"
	"math/bits"
	"net"
	"os"
	"runtime/metrics"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/brink-edge/brink/flags"
)

// edgeLoadConfig is one load run.
type edgeLoadConfig struct {
	conns    int
	warmup   time.Duration
	duration time.Duration
	// rate, when > 0, paces the requests (requests per second in all).
	rate float64
	// syncEvery, when > 0, republishes the state at that interval.
	syncEvery time.Duration
	// inc, when set, syncs incrementally (else by a full decode and
	// Compile).
	inc *edgeIncSync
}

// edgeLoadResult is what a run measured.
type edgeLoadResult struct {
	hist edgeHist
	// svc counts from when a request was sent, in paced runs (hist counts
	// from when it was due).
	svc         edgeHist
	requests    int
	elapsed     time.Duration
	syncs       int
	syncTime    time.Duration // spent in syncs
	gcCycles    uint64
	gcCPU, cpu  float64 // seconds
	failed      int
	firstFailed string
}

func BenchmarkEdgeFrontendUnderSync(b *testing.B) {
	n, conns, dur, warm, rounds, pace := 200, 4, 300*time.Millisecond, 50*time.Millisecond, 1, 0.5
	if edgeFull() {
		n, conns, dur, warm, rounds = 5000, 16, 5*time.Second, 500*time.Millisecond, 3
		if v, err := strconv.Atoi(os.Getenv("BRINK_BENCH_CONNS")); err == nil && v > 0 {
			conns = v
		}
		if v, err := time.ParseDuration(os.Getenv("BRINK_BENCH_DURATION")); err == nil && v > 0 {
			dur = v
		}
		if v, err := strconv.Atoi(os.Getenv("BRINK_BENCH_ROUNDS")); err == nil && v > 0 {
			rounds = v
		}
		if v, err := strconv.ParseFloat(os.Getenv("BRINK_BENCH_PACE"), 64); err == nil && v > 0 && v <= 1 {
			pace = v
		}
	}
	const syncEvery = 200 * time.Millisecond
	raws := edgeRawVariants(b, n, 4)
	store := new(flags.Store)
	edgeSync(b, store, edgeEnv, raws[0])
	agg := flags.NewMetricsAggregator(flags.MetricsConfig{AppName: "brink-bench", InstanceID: "bench"})
	h := edgeHandler(b, store, edgeTokenCache(), agg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: h.Handle, NoDefaultServerHeader: true, ReadTimeout: 30 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	b.Cleanup(func() { _ = srv.Shutdown(); <-done })
	addr := ln.Addr().String()
	uris := edgeFrontendURIs(4096)

	prefix := "flags=" + strconv.Itoa(n) + "/conns=" + strconv.Itoa(conns) + "/sync=" + syncEvery.String()
	// The full syncs (decode and Compile of every flag, 100 flags changed
	// per sync) and, under /incremental-10, the incremental ones of
	// flags/upstream with 10 flags changed per sync.
	fewRaws := edgeRawFewChanges(b, n, 4)
	for _, mode := range []string{"", "/incremental-10"} {
		var closedRate float64
		for _, shape := range []string{"closed", "paced"} {
			b.Run(prefix+mode+"/"+shape, func(b *testing.B) {
				cfg := edgeLoadConfig{conns: conns, warmup: warm, duration: dur}
				raws := raws
				if mode != "" {
					cfg.inc, raws = new(edgeIncSync), fewRaws
				}
				if shape == "paced" {
					if closedRate == 0 {
						b.Skip("needs the closed run first")
					}
					cfg.rate = closedRate * pace
				}
				b.ReportAllocs()
				var none, syncing []*edgeLoadResult
				for b.Loop() {
					none, syncing = none[:0], syncing[:0]
					for r := range rounds {
						// Alternate which goes first, so that a drift of the
						// machine's load does not favour one.
						for _, withSync := range [][]bool{{false, true}, {true, false}}[r%2] {
							c := cfg
							if withSync {
								c.syncEvery = syncEvery
								syncing = append(syncing, edgeLoad(b, addr, uris, store, raws, c))
							} else {
								none = append(none, edgeLoad(b, addr, uris, store, raws, c))
							}
						}
					}
				}
				for _, r := range append(append([]*edgeLoadResult{}, none...), syncing...) {
					if r.failed > 0 {
						b.Fatalf("%d of %d requests failed; first: %s", r.failed, r.requests, r.firstFailed)
					}
				}
				ratios := make([]float64, rounds)
				sentRatios := make([]float64, rounds)
				for i := range rounds {
					a, s := none[i], syncing[i]
					ratios[i] = s.hist.quantile(0.99) / a.hist.quantile(0.99)
					sentRatios[i] = s.svc.quantile(0.99) / a.svc.quantile(0.99)
					b.Logf("round %d: no sync: p50 %.0f µs, p99 %.0f µs, %.0f req/s | syncing: p50 %.0f µs, p99 %.0f µs, %.0f req/s, %d syncs of %.0f ms, %d GC cycles, GC %.1f %% of CPU | p99 ratio %.2f",
						i+1, a.hist.quantile(0.5)/1e3, a.hist.quantile(0.99)/1e3, a.rate(),
						s.hist.quantile(0.5)/1e3, s.hist.quantile(0.99)/1e3, s.rate(), s.syncs, s.msPerSync(), s.gcCycles, s.gcPercent(), ratios[i])
					if cfg.rate > 0 {
						b.Logf("round %d, from when sent: no sync: p50 %.0f µs, p99 %.0f µs | syncing: p50 %.0f µs, p99 %.0f µs | p99 ratio %.2f",
							i+1, a.svc.quantile(0.5)/1e3, a.svc.quantile(0.99)/1e3, s.svc.quantile(0.5)/1e3, s.svc.quantile(0.99)/1e3, sentRatios[i])
					}
				}
				med := func(rs []*edgeLoadResult, f func(*edgeLoadResult) float64) float64 {
					v := make([]float64, len(rs))
					for i, r := range rs {
						v[i] = f(r)
					}
					return edgeMedian(v)
				}
				p50 := func(r *edgeLoadResult) float64 { return r.hist.quantile(0.5) / 1e3 }
				p99 := func(r *edgeLoadResult) float64 { return r.hist.quantile(0.99) / 1e3 }
				rate := func(r *edgeLoadResult) float64 { return r.rate() }
				b.ReportMetric(med(none, p50), "p50-none-µs")
				b.ReportMetric(med(none, p99), "p99-none-µs")
				b.ReportMetric(med(syncing, p50), "p50-sync-µs")
				b.ReportMetric(med(syncing, p99), "p99-sync-µs")
				b.ReportMetric(edgeMedian(ratios), "p99-ratio")
				b.ReportMetric(med(none, rate), "req/s-none")
				b.ReportMetric(med(syncing, rate), "req/s-sync")
				b.ReportMetric(med(syncing, (*edgeLoadResult).msPerSync), "ms/sync")
				b.ReportMetric(med(syncing, func(r *edgeLoadResult) float64 { return float64(r.gcCycles) }), "gc-cycles-sync")
				b.ReportMetric(med(syncing, (*edgeLoadResult).gcPercent), "gc-cpu-%-sync")
				if cfg.rate > 0 {
					b.ReportMetric(cfg.rate, "paced-req/s")
					b.ReportMetric(edgeMedian(sentRatios), "p99-sent-ratio")
				} else {
					closedRate = med(none, rate)
				}
			})
		}
	}
}

// edgeMedian returns the median of v (the lower middle of an even count).
func edgeMedian(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	return v[(len(v)-1)/2]
}

func (r *edgeLoadResult) rate() float64 { return float64(r.requests) / r.elapsed.Seconds() }

func (r *edgeLoadResult) msPerSync() float64 {
	if r.syncs == 0 {
		return 0
	}
	return r.syncTime.Seconds() * 1e3 / float64(r.syncs)
}

func (r *edgeLoadResult) gcPercent() float64 {
	if r.cpu <= 0 {
		return 0
	}
	return 100 * r.gcCPU / r.cpu
}

// edgeLoad runs one load run against addr.
func edgeLoad(tb testing.TB, addr string, uris [][]byte, store *flags.Store, raws [][]byte, cfg edgeLoadConfig) *edgeLoadResult {
	client := &fasthttp.HostClient{
		Addr:                addr,
		MaxConns:            cfg.conns,
		ReadTimeout:         30 * time.Second,
		WriteTimeout:        30 * time.Second,
		MaxResponseBodySize: 64 << 20,
	}
	defer client.CloseIdleConnections()
	res := &edgeLoadResult{}
	var failed atomic.Int64
	var firstFailed atomic.Value
	fail := func(msg string) {
		if failed.Add(1) == 1 {
			firstFailed.Store(msg)
		}
	}

	start := time.Now()
	measureFrom := start.Add(cfg.warmup)
	end := measureFrom.Add(cfg.duration)

	// The refresher.
	stopSync := make(chan struct{})
	syncDone := make(chan struct{})
	go func() {
		defer close(syncDone)
		if cfg.syncEvery <= 0 {
			return
		}
		tick := time.NewTicker(cfg.syncEvery)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stopSync:
				return
			case <-tick.C:
			}
			t0 := time.Now()
			if cfg.inc != nil {
				cfg.inc.sync(tb, store, edgeEnv, raws[i%len(raws)])
			} else {
				edgeSync(tb, store, edgeEnv, raws[i%len(raws)])
			}
			if t0.After(measureFrom) && time.Now().Before(end) {
				res.syncs++
				res.syncTime += time.Since(t0)
			}
		}
	}()

	hists := make([]edgeHist, cfg.conns)
	svcs := make([]edgeHist, cfg.conns)
	counts := make([]int, cfg.conns)
	var gc0 uint64
	var gcCPUs0, cpus0 float64
	var once sync.Once
	snapshot := func() { gc0, gcCPUs0, cpus0 = edgeRuntimeCounters() }
	var wg sync.WaitGroup
	for g := range cfg.conns {
		wg.Go(func() {
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			req.Header.SetHost("127.0.0.1")
			req.Header.Set(fasthttp.HeaderAuthorization, edgeFront)
			var interval time.Duration
			next := start
			if cfg.rate > 0 {
				interval = time.Duration(float64(cfg.conns) / cfg.rate * float64(time.Second))
				next = start.Add(interval * time.Duration(g) / time.Duration(cfg.conns))
			}
			for i := g * 997; ; i++ { // goroutines start on different users
				sent := time.Now()
				actual := sent
				if interval > 0 {
					if wait := time.Until(next); wait > 0 {
						time.Sleep(wait)
					}
					sent = next // latency counts from when the request was due
					next = next.Add(interval)
				}
				if sent.After(end) {
					return
				}
				req.SetRequestURIBytes(uris[i%len(uris)])
				if interval > 0 {
					actual = time.Now()
				}
				err := client.Do(req, resp)
				now := time.Now()
				switch {
				case err != nil:
					fail(err.Error())
				case resp.StatusCode() != fasthttp.StatusOK:
					fail("status " + strconv.Itoa(resp.StatusCode()))
				}
				if !sent.Before(measureFrom) {
					once.Do(snapshot)
					hists[g].record(now.Sub(sent))
					svcs[g].record(now.Sub(actual))
					counts[g]++
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(measureFrom)
	gc1, gcCPUs1, cpus1 := edgeRuntimeCounters()
	close(stopSync)
	<-syncDone
	for g := range hists {
		res.hist.merge(&hists[g])
		res.svc.merge(&svcs[g])
		res.requests += counts[g]
	}
	res.elapsed = elapsed
	res.gcCycles = gc1 - gc0
	res.gcCPU, res.cpu = gcCPUs1-gcCPUs0, cpus1-cpus0
	res.failed = int(failed.Load())
	if res.failed > 0 {
		res.firstFailed, _ = firstFailed.Load().(string)
	}
	return res
}

// edgeRuntimeCounters returns the GC cycles so far, the CPU seconds GC
// used and the CPU seconds the process used (runtime/metrics estimates).
func edgeRuntimeCounters() (gcs uint64, gcCPU, cpu float64) {
	s := []metrics.Sample{
		{Name: "/gc/cycles/total:gc-cycles"},
		{Name: "/cpu/classes/gc/total:cpu-seconds"},
		{Name: "/cpu/classes/total:cpu-seconds"},
		{Name: "/cpu/classes/idle:cpu-seconds"},
	}
	metrics.Read(s)
	return s[0].Value.Uint64(), s[1].Value.Float64(), s[2].Value.Float64() - s[3].Value.Float64()
}

// edgeHist is a fixed-bucket latency histogram in nanoseconds: values
// below 128 exactly, above in 64 linear sub-buckets per power of two.
type edgeHist struct {
	counts [128 + 64*58]uint64
	n      uint64
	max    int64
}

func edgeHistIndex(v uint64) int {
	if v < 128 {
		return int(v)
	}
	shift := bits.Len64(v) - 7 // v>>shift is in [64, 128)
	return 128 + (shift-1)*64 + int(v>>shift) - 64
}

// edgeHistUpper is the largest value of bucket i.
func edgeHistUpper(i int) uint64 {
	if i < 128 {
		return uint64(i)
	}
	shift := (i-128)/64 + 1
	m := uint64((i-128)%64 + 64)
	return (m+1)<<shift - 1
}

func (h *edgeHist) record(d time.Duration) {
	v := max(int64(d), 0)
	h.counts[edgeHistIndex(uint64(v))]++
	h.n++
	h.max = max(h.max, v)
}

func (h *edgeHist) merge(o *edgeHist) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// quantile returns the q quantile in nanoseconds: the upper bound of the
// bucket holding the ceil(q·n)-th value (at most the maximum seen).
func (h *edgeHist) quantile(q float64) float64 {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = max(rank, 1)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return float64(min(edgeHistUpper(i), uint64(h.max)))
		}
	}
	return float64(h.max)
}

// TestEdgeHist checks the buckets: every value falls in a bucket whose
// bounds hold it, within 1/64 of its size.
func TestEdgeHist(t *testing.T) {
	for _, v := range []uint64{0, 1, 127, 128, 129, 255, 256, 1000, 123456, 1e9, 7e10, 1<<62 - 1} {
		i := edgeHistIndex(v)
		if i >= len(edgeHist{}.counts) {
			t.Fatalf("%d: index %d out of range", v, i)
		}
		up := edgeHistUpper(i)
		lo := uint64(0)
		if i > 0 {
			lo = edgeHistUpper(i-1) + 1
		}
		if v < lo || v > up {
			t.Errorf("%d in bucket %d = [%d, %d]", v, i, lo, up)
		}
		if v >= 128 && float64(up-lo+1) > float64(v)/64 {
			t.Errorf("%d: bucket [%d, %d] wider than 1/64 of the value", v, lo, up)
		}
	}
	var h edgeHist
	for v := 1; v <= 1000; v++ {
		h.record(time.Duration(v) * time.Microsecond)
	}
	for _, c := range []struct{ q, want float64 }{{0.5, 500e3}, {0.99, 990e3}, {1, 1000e3}} {
		if got := h.quantile(c.q); got < c.want || got > c.want*1.016 {
			t.Errorf("quantile(%v) = %v, want %v (+1.6 %%)", c.q, got, c.want)
		}
	}
}

// BenchmarkEdgeSyncSteps times the steps of one refresh of the whole state
// (BRINK_BENCH_FULL=1: 5,000 flags; otherwise 200): decoding the upstream
// JSON, compiling it, publishing the plan (which diffs it against the
// previous one for the delta event log), and the three in a row.
func BenchmarkEdgeSyncSteps(b *testing.B) {
	n := 200
	if edgeFull() {
		n = 5000
	}
	raws := edgeRawVariants(b, n, 2)
	cfs := make([]*flags.ClientFeatures, len(raws))
	plans := make([]*flags.Plan, len(raws))
	for i, raw := range raws {
		cf, err := flags.DecodeClientFeatures(raw)
		if err != nil {
			b.Fatal(err)
		}
		cfs[i], plans[i] = cf, flags.Compile(cf)
	}
	prefix := "flags=" + strconv.Itoa(n) + "/"
	b.Run(prefix+"decode", func(b *testing.B) {
		b.SetBytes(int64(len(raws[0])))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := flags.DecodeClientFeatures(raws[0]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run(prefix+"compile", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			Sink += flags.Compile(cfs[0]).Len()
		}
	})
	b.Run(prefix+"publish", func(b *testing.B) {
		store := new(flags.Store)
		store.PublishProjects(edgeEnv, plans[0], edgeUpstream, []string{"*"})
		b.ReportAllocs()
		i := 1
		for b.Loop() {
			store.PublishProjects(edgeEnv, plans[i%2], edgeUpstream, []string{"*"})
			i++
		}
	})
	// The incremental steps of flags/upstream, between payloads 10 flags
	// apart (edgeRawFewChanges).
	few := edgeRawFewChanges(b, n, 2)
	fewCF := make([]*flags.ClientFeatures, 2)
	fewPlans := make([]*flags.Plan, 2)
	for i, raw := range few {
		cf, err := flags.DecodeClientFeaturesFrom(nil, raw)
		if err != nil {
			b.Fatal(err)
		}
		fewCF[i], fewPlans[i] = cf, flags.Compile(cf)
	}
	b.Run(prefix+"decode-incremental-10", func(b *testing.B) {
		b.SetBytes(int64(len(few[1])))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := flags.DecodeClientFeaturesFrom(fewCF[0], few[1]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run(prefix+"compile-incremental-10", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			Sink += flags.CompileFrom(fewPlans[0], fewCF[1]).Len()
		}
	})
	b.Run(prefix+"publish-incremental-10", func(b *testing.B) {
		store := new(flags.Store)
		p0 := flags.CompileFrom(nil, fewCF[0])
		p1 := flags.CompileFrom(p0, fewCF[1])
		ps := []*flags.Plan{p0, flags.CompileFrom(p1, fewCF[0])}
		ps[1] = p1
		store.PublishProjects(edgeEnv, ps[0], edgeUpstream, []string{"*"})
		b.ReportAllocs()
		i := 1
		for b.Loop() {
			store.PublishProjects(edgeEnv, ps[i%2], edgeUpstream, []string{"*"})
			i++
		}
	})
	b.Run(prefix+"all-incremental-10", func(b *testing.B) {
		store := new(flags.Store)
		s := new(edgeIncSync)
		s.sync(b, store, edgeEnv, few[0])
		b.ReportAllocs()
		i := 1
		for b.Loop() {
			s.sync(b, store, edgeEnv, few[i%2])
			i++
		}
	})
	b.Run(prefix+"all", func(b *testing.B) {
		store := new(flags.Store)
		edgeSync(b, store, edgeEnv, raws[0])
		b.ReportAllocs()
		i := 1
		for b.Loop() {
			edgeSync(b, store, edgeEnv, raws[i%2])
			i++
		}
	})
}
