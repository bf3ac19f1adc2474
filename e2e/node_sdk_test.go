package e2e

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// serverRun is what e2e/node/server-sdk.js prints.
type serverRun struct {
	SDKVersion   string              `json:"sdkVersion"`
	Synchronized bool                `json:"synchronized"`
	Registered   bool                `json:"registered"`
	Definitions  []string            `json:"definitions"`
	Results      []map[string]answer `json:"results"`
	Sent         []struct {
		Bucket struct {
			Toggles map[string]flagCount `json:"toggles"`
		} `json:"bucket"`
	} `json:"sent"`
	Warnings  []string `json:"warnings"`
	Errors    []string `json:"errors"`
	Exchanges []struct {
		Method      string `json:"method"`
		Path        string `json:"path"`
		Status      int    `json:"status"`
		IfNoneMatch string `json:"ifNoneMatch"`
		Error       string `json:"error"`
	} `json:"exchanges"`
}

func (r *serverRun) exchangeLog() string {
	var b strings.Builder
	for _, x := range r.Exchanges {
		fmt.Fprintf(&b, "\n  %s %s -> %d %s", x.Method, x.Path, x.Status, x.Error)
	}
	return b.String()
}

// statuses lists the statuses brink gave the SDK for method+path (query
// ignored).
func (r *serverRun) statuses(method, path string) []int {
	var s []int
	for _, x := range r.Exchanges {
		p, _, _ := strings.Cut(x.Path, "?")
		if x.Method == method && p == path {
			s = append(s, x.Status)
		}
	}
	return s
}

// TestNodeServerSDK runs the official Node server SDK (npm unleash-client)
// against brink: it must synchronise from /api/client/features, answer
// isEnabled/getVariant exactly as brink's frontend API does for the same
// contexts, register (202), post metrics (202) that show up in
// /internal-backstage/metricsbatch, poll with ETags (304), and see only its
// project's flags with a project-scoped token.
func TestNodeServerSDK(t *testing.T) {
	node := needNode(t)
	b := startBrink(t)
	ds := loadDataset(t)
	allFlags := ds.flagNames("")
	ctxs := contexts()
	projACtxs := ctxs[:10]

	const app, appA = "brink-e2e-node-sdk", "brink-e2e-node-sdk-proja"
	var full, scoped serverRun
	var wg sync.WaitGroup
	wg.Add(2)
	// The two SDK instances are independent processes; run them together.
	// runNode calls t.Fatalf only from this goroutine's own subtest.
	var fullOK, scopedOK bool
	go func() {
		defer wg.Done()
		fullOK = t.Run("run-wildcard-token", func(t *testing.T) {
			runNode(t, node, "server-sdk.js", map[string]any{
				"url": b.url + "/api/", "token": clientToken, "appName": app, "instanceId": "e2e-1",
				"flags": allFlags, "contexts": ctxs,
				"refreshMs": 500, "metricsMs": 1000, "minFeatureFetches": 3, "timeoutMs": 30000,
			}, &full, 60*time.Second)
		})
	}()
	go func() {
		defer wg.Done()
		scopedOK = t.Run("run-projA-token", func(t *testing.T) {
			runNode(t, node, "server-sdk.js", map[string]any{
				"url": b.url + "/api/", "token": projAToken, "appName": appA, "instanceId": "e2e-2",
				"flags": allFlags, "contexts": projACtxs,
				"refreshMs": 1000, "metricsMs": 1000, "minFeatureFetches": 1, "timeoutMs": 30000,
			}, &scoped, 60*time.Second)
		})
	}()
	wg.Wait()
	if !fullOK || !scopedOK {
		t.FailNow()
	}
	batch := b.metricsBatch(t)

	t.Run("sdk", func(t *testing.T) {
		if full.SDKVersion != nodeSDKVersion {
			t.Errorf("unleash-client %s, want %s", full.SDKVersion, nodeSDKVersion)
		}
		if !full.Synchronized {
			t.Errorf("SDK never emitted synchronized")
		}
		if len(full.Errors) > 0 || len(full.Warnings) > 0 {
			t.Errorf("SDK errors %q, warnings %q; HTTP:%s", full.Errors, full.Warnings, full.exchangeLog())
		}
		if got := slices.Sorted(slices.Values(full.Definitions)); !slices.Equal(got, allFlags) {
			t.Errorf("SDK loaded flags %v, want the dataset's %v", got, allFlags)
		}
	})

	t.Run("evaluation", func(t *testing.T) {
		if len(full.Results) != len(ctxs) {
			t.Fatalf("SDK answered %d contexts, want %d", len(full.Results), len(ctxs))
		}
		var diffs []string
		for i, ctx := range ctxs {
			// The SDK evaluates {appName, environment: "default"} merged
			// with the caller's context; ask brink the same.
			q := maps.Clone(ctx)
			q["appName"], q["environment"] = app, "default"
			edge := b.frontendAll(t, q)
			if got := slices.Sorted(maps.Keys(edge)); !slices.Equal(got, allFlags) {
				t.Fatalf("brink /api/frontend/all answered flags %v, want %v", got, allFlags)
			}
			for _, name := range allFlags {
				if d := diffAnswer(full.Results[i][name], edge[name]); d != "" {
					diffs = append(diffs, fmt.Sprintf("%s for %s: %s", name, jsonString(q), d))
				}
			}
		}
		reportDiffs(t, "Node SDK vs brink /api/frontend/all", diffs)
	})

	t.Run("registration", func(t *testing.T) {
		if !full.Registered {
			t.Errorf("SDK never emitted registered")
		}
		if s := full.statuses("POST", "/api/client/register"); len(s) != 1 || s[0] != 202 {
			t.Errorf("POST /api/client/register statuses %v, want [202]; HTTP:%s", s, full.exchangeLog())
		}
		found := false
		for _, a := range batch.Applications {
			if a.AppName == app {
				found = true
				if a.InstanceID != "e2e-1" || a.SDKVersion != "unleash-node-sdk:"+nodeSDKVersion {
					t.Errorf("metricsbatch application %+v, want instanceId e2e-1, sdkVersion unleash-node-sdk:%s", a, nodeSDKVersion)
				}
			}
		}
		if !found {
			t.Errorf("metricsbatch has no application %q: %+v", app, batch.Applications)
		}
	})

	t.Run("metrics", func(t *testing.T) {
		s := full.statuses("POST", "/api/client/metrics")
		if len(s) == 0 {
			t.Fatalf("SDK never posted /api/client/metrics; HTTP:%s", full.exchangeLog())
		}
		for _, st := range s {
			if st != 202 {
				t.Errorf("POST /api/client/metrics statuses %v, want all 202", s)
				break
			}
		}
		want := expectedCounts(full.Results)
		reportDiffs(t, "metricsbatch for "+app+" vs the SDK's evaluations", diffCounts(want, batch.counts(app)))
	})

	t.Run("polling-etag", func(t *testing.T) {
		s := full.statuses("GET", "/api/client/features")
		if len(s) < 3 {
			t.Fatalf("SDK polled /api/client/features %d times, want >= 3; HTTP:%s", len(s), full.exchangeLog())
		}
		if s[0] != 200 {
			t.Errorf("first GET /api/client/features: %d, want 200", s[0])
		}
		// The data never changes: every later poll carries the ETag and
		// must get 304, as from Unleash Edge.
		for i, st := range s[1:] {
			if st != 304 {
				t.Errorf("poll %d of /api/client/features: %d, want 304 (If-None-Match sent); HTTP:%s", i+2, st, full.exchangeLog())
				break
			}
		}
	})

	t.Run("project-scoped-token", func(t *testing.T) {
		projA := ds.flagNames("projA")
		if got := slices.Sorted(slices.Values(scoped.Definitions)); !slices.Equal(got, projA) {
			t.Errorf("with %s the SDK loaded %v, want only projA's %v", projAToken, got, projA)
		}
		if len(scoped.Errors) > 0 || len(scoped.Warnings) > 0 {
			t.Errorf("SDK errors %q, warnings %q; HTTP:%s", scoped.Errors, scoped.Warnings, scoped.exchangeLog())
		}
		for _, p := range []string{"/api/client/register", "/api/client/metrics"} {
			if s := scoped.statuses("POST", p); len(s) == 0 || slices.ContainsFunc(s, func(st int) bool { return st != 202 }) {
				t.Errorf("POST %s statuses %v, want 202; HTTP:%s", p, s, scoped.exchangeLog())
			}
		}
		if len(scoped.Results) != len(projACtxs) {
			t.Fatalf("SDK answered %d contexts, want %d", len(scoped.Results), len(projACtxs))
		}
		var diffs []string
		for i, ctx := range projACtxs {
			q := maps.Clone(ctx)
			q["appName"], q["environment"] = appA, "default"
			edge := b.frontendAll(t, q)
			for _, name := range allFlags {
				want, inProject := edge[name], slices.Contains(projA, name)
				if !inProject { // unknown to the SDK: off, no variant
					want = toggle{Name: name, Variant: variant{Name: "disabled"}}
				}
				if d := diffAnswer(scoped.Results[i][name], want); d != "" {
					diffs = append(diffs, fmt.Sprintf("%s (in projA: %v) for %s: %s", name, inProject, jsonString(q), d))
				}
			}
		}
		reportDiffs(t, "Node SDK with "+projAToken, diffs)
		reportDiffs(t, "metricsbatch for "+appA, diffCounts(expectedCounts(scoped.Results), batch.counts(appA)))
	})
}
