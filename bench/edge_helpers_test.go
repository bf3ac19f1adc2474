package bench

// Shared set-up of the edge-mode figures (edge_*_test.go): the flag sets an
// upstream would send, the tokens edge mode would know, the API built as
// cmd/brink's edge.go builds it, and a RequestCtx loop that drives the
// handler without a network. Results and commands: RESULTS-edge.md.

import (
	"encoding/json"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/brink-edge/brink/flags"
	"github.com/brink-edge/brink/flags/api"
)

const (
	// edgeEnv is the environment the single-environment figures use.
	edgeEnv = "development"
	// edgeFront sees every project of edgeEnv; edgeFrontScoped sees the
	// projects "default" and "checkout" (a multi-project token).
	edgeFront       = "*:development.edgefront0123456789"
	edgeFrontScoped = "[]:development.edgescoped0123456789"
	// edgeClient is the client token the backups and the binary start with.
	edgeClient = "*:development.edgeclient0123456789"
	// edgeUpstream is the origin edge mode publishes its states under.
	edgeUpstream = "http://upstream.invalid"
)

// edgeFull reports whether BRINK_BENCH_FULL=1 asks for the full-size
// harnesses (5,000 flags, 5 s load runs); otherwise the benchmarks run a
// small configuration that only proves they work.
func edgeFull() bool { return os.Getenv("BRINK_BENCH_FULL") == "1" }

// edgeVariant returns flags.GenerateDataset(n, seed) changed as a sync
// would change it: for variant v, every 100th flag (from offset v%100) is
// switched on or off and, when it has a flexibleRollout strategy, gets
// another rollout percentage. Variant 0 is the data set unchanged.
func edgeVariant(n int, seed int64, v int) *flags.ClientFeatures {
	cf := flags.GenerateDataset(n, seed)
	if v == 0 {
		return cf
	}
	for i := v % 100; i < len(cf.Features); i += 100 {
		f := &cf.Features[i]
		f.Enabled = !f.Enabled
		for j := range f.Strategies {
			s := &f.Strategies[j]
			if s.Name != "flexibleRollout" {
				continue
			}
			p := make(map[string]string, len(s.Parameters))
			for k, val := range s.Parameters {
				p[k] = val
			}
			p["rollout"] = strconv.Itoa((v * 7) % 101)
			s.Parameters = p
		}
	}
	return cf
}

// edgeRawVariants returns k upstream payloads (/api/client/features JSON)
// of n flags, variants 1..k of edgeVariant.
func edgeRawVariants(tb testing.TB, n, k int) [][]byte {
	tb.Helper()
	out := make([][]byte, k)
	for v := range k {
		raw, err := json.Marshal(edgeVariant(n, 1, v+1))
		if err != nil {
			tb.Fatal(err)
		}
		out[v] = raw
	}
	return out
}

// edgeSync is the refresh path of flags/upstream before incremental syncs
// for one fetched payload: decode the raw bytes, compile, publish (refresher.publish also merges
// with the other tokens' features, a slice clone and sort, left out here).
func edgeSync(tb testing.TB, store *flags.Store, env string, raw []byte) {
	cf, err := flags.DecodeClientFeatures(raw)
	if err != nil {
		tb.Error(err)
		return
	}
	store.PublishProjects(env, flags.Compile(cf), edgeUpstream, []string{"*"})
}

// edgeRawFewChanges returns k upstream payloads of n flags that differ
// from GenerateDataset(n, 1) in 5 flags each, switched on or off, each
// payload in other flags: syncing them in turn changes 10 flags per sync
// (5 switched back, 5 switched), the size of a usual upstream change.
func edgeRawFewChanges(tb testing.TB, n, k int) [][]byte {
	tb.Helper()
	out := make([][]byte, k)
	for v := range k {
		cf := flags.GenerateDataset(n, 1)
		for j := range 5 {
			f := &cf.Features[(v*5+j)*(n/(5*k))%n]
			f.Enabled = !f.Enabled
		}
		raw, err := json.Marshal(cf)
		if err != nil {
			tb.Fatal(err)
		}
		out[v] = raw
	}
	return out
}

// edgeIncSync is the refresh path of flags/upstream as it syncs: decode
// from the previous answer (flags.DecodeClientFeaturesFrom), compile from
// the previous plan (flags.CompileFrom), publish.
type edgeIncSync struct {
	cf   *flags.ClientFeatures
	plan *flags.Plan
}

func (s *edgeIncSync) sync(tb testing.TB, store *flags.Store, env string, raw []byte) {
	cf, err := flags.DecodeClientFeaturesFrom(s.cf, raw)
	if err != nil {
		tb.Error(err)
		return
	}
	s.cf, s.plan = cf, flags.CompileFrom(s.plan, cf)
	store.PublishProjects(env, s.plan, edgeUpstream, []string{"*"})
}

// edgeTokenCache returns the tokens of the single-environment figures as
// edge mode holds them after validation.
func edgeTokenCache() *flags.TokenCache {
	c := new(flags.TokenCache)
	c.Add(flags.Token{Raw: edgeFront, Type: flags.TokenFrontend, Environment: edgeEnv, Projects: []string{"*"}, Status: flags.TokenValidated})
	c.Add(flags.Token{Raw: edgeFrontScoped, Type: flags.TokenFrontend, Environment: edgeEnv, Projects: []string{"default", "checkout"}, Status: flags.TokenValidated})
	c.Add(flags.Token{Raw: edgeClient, Type: flags.TokenClient, Environment: edgeEnv, Projects: []string{"*"}, Status: flags.TokenValidated})
	return c
}

// edgeHandler builds the API over store as edge.go does (an aggregator
// the metrics forwarder drains; no Validator: every token is known).
func edgeHandler(tb testing.TB, store *flags.Store, tokens *flags.TokenCache, agg *flags.MetricsAggregator) *api.Handler {
	tb.Helper()
	h, err := api.New(api.Config{Store: store, Tokens: tokens, Metrics: agg, AppName: "brink-bench"})
	if err != nil {
		tb.Fatal(err)
	}
	return h
}

// edgeFrontendURIs returns n /api/frontend URIs with distinct users and
// the properties GenerateDataset's constraints read.
func edgeFrontendURIs(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = []byte("/api/frontend?userId=user-" + strconv.Itoa(i) + "&sessionId=" + strconv.Itoa(1000000+i) +
			"&appName=web&environment=production&properties[appVersion]=2.4.1&properties[email]=alice@example.com&properties[tier]=3&properties[country]=NO")
	}
	return out
}

// edgeLoop prepares a reused RequestCtx, as a fasthttp.Server keeps one per
// connection (with its body buffer: see flags/api/loop_test.go), and
// returns a function serving the next request of uris with token.
func edgeLoop(h *api.Handler, uris [][]byte, token string) (func(), *fasthttp.RequestCtx) {
	ctx := new(fasthttp.RequestCtx)
	ctx.Response.KeepBodyBuffer = true
	ctx.SetRemoteAddr(&net.TCPAddr{IP: net.IPv4(192, 0, 2, 10), Port: 40000})
	ctx.Request.Header.Set(fasthttp.HeaderAuthorization, token)
	i := 0
	return func() {
		ctx.Response.Reset()
		ctx.Request.SetRequestURIBytes(uris[i%len(uris)])
		i++
		h.Handle(ctx)
	}, ctx
}

// edgeReport returns an SDK metrics report of app for features, in the
// hour starting at hour.
func edgeReport(app string, hour time.Time, features []string, variants bool) *flags.ClientMetrics {
	m := &flags.ClientMetrics{
		AppName:    app,
		InstanceID: app + "-1",
		Bucket: &flags.MetricBucket{
			Start:   hour,
			Stop:    hour.Add(time.Minute),
			Toggles: make(map[string]flags.ToggleStats, len(features)),
		},
	}
	for i, f := range features {
		st := flags.ToggleStats{Yes: uint32(i%7 + 1), No: uint32(i % 3)}
		if variants && i%4 == 0 {
			st.Variants = map[string]uint32{"control": 1, "treatment-a": 2}
		}
		m.Bucket.Toggles[f] = st
	}
	return m
}
