package bench

// Resident memory of edge mode's state, and of pending metrics.
//
// BenchmarkEdgeMemory/state loads, as edge mode holds them, flag states of
// 5 environments (decoded from upstream JSON, compiled, published), 50
// validated tokens (10 per environment, client and frontend, with various
// project sets) and what the API caches once every token asked once: the
// frontend scopes and the /api/client/features answers. It reports the
// live heap that adds (runtime.MemStats.HeapInuse after runtime.GC, less
// the same before loading) and the process's resident set
// (/proc/self/status VmRSS, after debug.FreeOSMemory) before and after.
//
// BenchmarkEdgeMemory/metrics fills a MetricsAggregator with distinct
// (app, feature, environment, hour) keys from SDK reports whose strings are
// fresh per report, as decoded ones are, and reports the heap it holds per
// key.
//
// BRINK_BENCH_FULL=1: 5,000 flags per environment, 100,000 metric keys
// (flags.DefaultMaxMetricsKeys); otherwise 200 flags and 1,000 keys.
// Run it alone (-bench EdgeMemory) for figures: what other benchmarks of
// the same process left in the heap and in the RSS blurs the deltas.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/brink-edge/brink/flags"
)

// edgeMemEnvs are the environments of the memory figures.
var edgeMemEnvs = []string{"development", "production", "staging", "qa", "eu"}

// edgeMemProjects are the project sets the tokens of an environment cycle
// through.
var edgeMemProjects = [][]string{{"*"}, {"default"}, {"checkout"}, {"search", "mobile"}, {"default", "checkout", "search"}}

func BenchmarkEdgeMemory(b *testing.B) {
	n, keys := 200, [4]int{2, 50, 5, 2} // apps, features, envs, hours
	if edgeFull() {
		n, keys = 5000, [4]int{10, 1000, 5, 2}
	}
	b.Run("state/flags="+strconv.Itoa(n)+"/envs=5/tokens=50", func(b *testing.B) {
		b.ReportAllocs()
		raws := make([][]byte, len(edgeMemEnvs))
		for i := range raws { // another data set per environment
			var err error
			if raws[i], err = json.Marshal(edgeVariant(n, int64(i+1), 0)); err != nil {
				b.Fatal(err)
			}
		}
		var heap0, heapStore, heapAll uint64
		var rss0, rssAll uint64
		for b.Loop() {
			heap0, rss0 = edgeHeapInuse(), edgeRSS(b)
			store, tokens, agg := new(flags.Store), new(flags.TokenCache), flags.NewMetricsAggregator(flags.MetricsConfig{})
			for i, env := range edgeMemEnvs {
				edgeSync(b, store, env, raws[i])
			}
			heapStore = edgeHeapInuse()
			var toks []flags.Token
			for i, env := range edgeMemEnvs {
				for j := range 10 {
					t := flags.Token{
						Environment: env,
						Projects:    edgeMemProjects[j%len(edgeMemProjects)],
						Status:      flags.TokenValidated,
						Type:        flags.TokenClient,
					}
					if j >= 5 {
						t.Type = flags.TokenFrontend
					}
					proj := t.Projects[0]
					if len(t.Projects) > 1 {
						proj = "[]"
					}
					t.Raw = proj + ":" + env + ".secret" + strconv.Itoa(i*10+j) + "0123456789abcdef"
					tokens.Add(t)
					toks = append(toks, t)
				}
			}
			h := edgeHandler(b, store, tokens, agg)
			for _, t := range toks {
				ctx := new(fasthttp.RequestCtx)
				ctx.Request.Header.Set(fasthttp.HeaderAuthorization, t.Raw)
				if t.Type == flags.TokenClient {
					ctx.Request.SetRequestURI("/api/client/features")
				} else {
					ctx.Request.SetRequestURI("/api/frontend?userId=user-1")
				}
				h.Handle(ctx)
				if ctx.Response.StatusCode() != fasthttp.StatusOK {
					b.Fatalf("%s %s: status %d: %.200s", t.Type, ctx.Request.URI().RequestURI(), ctx.Response.StatusCode(), ctx.Response.Body())
				}
			}
			heapAll, rssAll = edgeHeapInuse(), edgeRSS(b)
			runtime.KeepAlive(h)
			runtime.KeepAlive(store)
		}
		b.ReportMetric(float64(heapStore-heap0)/(1<<20), "store-heap-MiB")
		b.ReportMetric(float64(heapAll-heap0)/(1<<20), "heap-MiB")
		b.ReportMetric(float64(heapStore-heap0)/float64(n*len(edgeMemEnvs)), "store-B/flag")
		b.ReportMetric(float64(rss0)/(1<<20), "rss-before-MiB")
		b.ReportMetric(float64(rssAll)/(1<<20), "rss-MiB")
	})
	total := keys[0] * keys[1] * keys[2] * keys[3]
	for _, variants := range []bool{false, true} {
		name := "metrics/keys=" + strconv.Itoa(total) + "/variants=none"
		if variants {
			name = "metrics/keys=" + strconv.Itoa(total) + "/variants=25%"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			var heap0, heap1 uint64
			for b.Loop() {
				heap0 = edgeHeapInuse()
				agg := flags.NewMetricsAggregator(flags.MetricsConfig{MaxKeys: total})
				edgeFillMetrics(agg, keys, variants)
				heap1 = edgeHeapInuse()
				if st := agg.Stats(); st.PendingKeys != total || st.DroppedMetrics != 0 {
					b.Fatalf("%d keys pending, %d dropped; want %d, 0", st.PendingKeys, st.DroppedMetrics, total)
				}
				runtime.KeepAlive(agg)
			}
			b.ReportMetric(float64(heap1-heap0)/float64(total), "B/key")
			b.ReportMetric(float64(heap1-heap0)/(1<<20), "heap-MiB")
		})
	}
}

// edgeFillMetrics adds one report per app, environment and hour, each
// counting every feature, with strings fresh per report.
func edgeFillMetrics(agg *flags.MetricsAggregator, keys [4]int, variants bool) {
	apps, features, envs, hours := keys[0], keys[1], keys[2], keys[3]
	base := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	for a := range apps {
		for e := range envs {
			for hr := range hours {
				names := make([]string, features)
				for f := range names {
					names[f] = "checkout.feature-" + strconv.Itoa(f)
				}
				m := edgeReport("app-"+strconv.Itoa(a), base.Add(time.Duration(hr)*time.Hour), names, variants)
				m.MetricsMetadata = flags.MetricsMetadata{
					SDKVersion:   strings.Clone("unleash-client-node:6.1.0"),
					SDKType:      strings.Clone("backend"),
					PlatformName: strings.Clone("node"),
				}
				agg.AddMetrics(edgeMemEnvs[e%len(edgeMemEnvs)], m)
			}
		}
	}
}

// edgeHeapInuse returns HeapInuse after a full GC.
func edgeHeapInuse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// edgeRSS returns the process's resident set (VmRSS) after returning free
// memory to the OS.
func edgeRSS(tb testing.TB) uint64 {
	debug.FreeOSMemory()
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		tb.Skipf("no /proc/self/status: %v", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				tb.Fatalf("VmRSS %q: %v", v, err)
			}
			return kb << 10
		}
	}
	tb.Fatal("no VmRSS in /proc/self/status")
	return 0
}
