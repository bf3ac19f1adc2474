package e2e

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/brink-edge/brink/internal/testenv"
)

// parityFlags creates, in Unleash's development environment, flags that
// exercise what an SDK evaluates from /api/client/features, restricted to
// where the Node SDK and Unleash Edge agree (see the reference's "Where the
// Node SDK and Unleash Edge's engine disagree"): every rollout has an
// explicit groupId, strategy variants have the strategy's stickiness,
// contexts always carry userId and sessionId, values are ASCII. It returns
// the flag names, sorted.
func parityFlags(t *testing.T, u *testenv.Unleash) []string {
	t.Helper()
	const p = testenv.DefaultProject
	var names []string
	flag := func(role string, enabled bool, strategies ...map[string]any) string {
		name := testenv.UniqueName(t, "parity-"+role)
		u.CreateFlag(t, p, name)
		for _, s := range strategies {
			if params, ok := s["parameters"].(map[string]string); ok && params["groupId"] == "" && s["name"] == "flexibleRollout" {
				params["groupId"] = name
			}
			u.AddStrategy(t, p, name, edgeEnv, s)
		}
		if enabled {
			u.EnableFlag(t, p, name, edgeEnv)
		}
		names = append(names, name)
		return name
	}
	withConstraints := func(s map[string]any, cs ...map[string]any) map[string]any {
		s["constraints"] = cs
		return s
	}
	c := func(ctxName, op string, values ...string) map[string]any {
		return map[string]any{"contextName": ctxName, "operator": op, "values": values}
	}

	flag("default", true, map[string]any{"name": "default"})
	flag("disabled", false, rollout(100, "default", ""))
	parent := flag("rollout-user", true, rollout(35, "userId", ""))
	flag("rollout-session", true, rollout(60, "sessionId", ""))
	flag("rollout-default", true, rollout(50, "default", ""))
	flag("constraints", true, withConstraints(rollout(100, "default", ""),
		c("plan", "IN", "pro", "enterprise"),
		map[string]any{"contextName": "country", "operator": "NOT_IN", "values": []string{"US"}}))
	flag("num-semver-str", true,
		withConstraints(rollout(100, "default", ""),
			map[string]any{"contextName": "age", "operator": "NUM_GTE", "value": "18"},
			map[string]any{"contextName": "version", "operator": "SEMVER_LT", "value": "2.0.0"}),
		withConstraints(rollout(100, "default", ""),
			map[string]any{"contextName": "email", "operator": "STR_ENDS_WITH", "values": []string{"EXAMPLE.com"}, "caseInsensitive": true}))
	flag("inverted", true, withConstraints(rollout(100, "default", ""),
		map[string]any{"contextName": "tenant", "operator": "IN", "values": []string{"t1", "t2", "t3"}, "inverted": true},
		map[string]any{"contextName": "currentTime", "operator": "DATE_AFTER", "value": "2022-01-01T00:00:00.000Z"}))
	seg := u.CreateSegment(t, testenv.UniqueName(t, "parity-seg"),
		`[{"contextName":"userId","operator":"IN","values":["u1","u2","u3","u5","u8","u13","u21","u34"]},
		  {"contextName":"plan","operator":"IN","values":["free","pro"]}]`)
	segStrategy := rollout(100, "default", "")
	segStrategy["segments"] = []int{seg}
	flag("segment", true, segStrategy)
	variants := rollout(100, "userId", "")
	variants["variants"] = []map[string]any{
		{"name": "blue", "weight": 300, "weightType": "variable", "stickiness": "userId",
			"payload": map[string]string{"type": "string", "value": "blue-payload"}},
		{"name": "green", "weight": 700, "weightType": "variable", "stickiness": "userId",
			"payload": map[string]string{"type": "json", "value": `{"shade":"dark"}`}},
	}
	flag("strategy-variants", true, variants)
	// Unleash 8 refuses environment (legacy) variants on new flags: a
	// second strategy-variants flag, default stickiness and a fixed weight.
	variants = rollout(80, "default", "")
	variants["variants"] = []map[string]any{
		{"name": "a", "weight": 0, "weightType": "variable", "stickiness": "default",
			"payload": map[string]string{"type": "string", "value": "A"}},
		{"name": "b", "weight": 0, "weightType": "variable", "stickiness": "default"},
		{"name": "c", "weight": 200, "weightType": "fix", "stickiness": "default",
			"payload": map[string]string{"type": "number", "value": "3"}},
	}
	flag("strategy-variants-default", true, variants)
	flag("remote-address", true, map[string]any{"name": "remoteAddress",
		"parameters": map[string]string{"IPs": "10.0.0.0/24, 192.168.1.20"}})
	// (Unleash 8 has no userWithId strategy any more.)
	flag("user-ids", true, withConstraints(map[string]any{"name": "default"},
		c("userId", "IN", "u1", "u4", "u9", "u16", "u25")))
	child := flag("dependent", true, map[string]any{"name": "default"})
	status, b := u.Admin(t, http.MethodPost, "/api/admin/projects/"+p+"/features/"+child+"/dependencies",
		map[string]any{"feature": parent, "enabled": true})
	if status != http.StatusOK {
		t.Fatalf("POST dependency of %s on %s: %d %s", child, parent, status, b)
	}
	slices.Sort(names)
	return names
}

// TestEdgeNodeSDKParity runs the official Node server SDK (npm
// unleash-client) twice with the same client token: against `brink edge`
// (synced from a real Unleash 8) and against that Unleash directly. For
// ~30 contexts every flag must evaluate identically (isEnabled and
// getVariant with payload), and identically to brink's own frontend API;
// the metrics the SDK posted to brink must reach Unleash with the same
// counts as those the other SDK posted to Unleash directly.
func TestEdgeNodeSDKParity(t *testing.T) {
	node := needNode(t)
	u := testenv.SharedUnleash(t)
	client := u.CreateAPIToken(t, "client", edgeEnv, []string{"*"})
	frontendTok := u.CreateAPIToken(t, "frontend", edgeEnv, []string{"*"})
	names := parityFlags(t, u)
	created := time.Now()
	eventually(t, 10*time.Second, "Unleash serving the parity flags", func() bool {
		served := decodeFeatures(t, "Unleash", u.ClientFeatures(t, client)).Features
		return !slices.ContainsFunc(names, func(n string) bool { _, ok := served[n]; return !ok })
	})

	e := startEdge(t, "edge", u.URL(), "-t", client, "-f", "1", "-m", "1")
	waitSameFeatures(t, u, e, client, 5*time.Second)
	ctxs := contexts()[:30]
	// The SDKs post metrics as soon as they evaluated.
	waitFlagsKnownToMetrics(t, created)

	appEdge, appDirect := testenv.UniqueName(t, "sdk-via-brink"), testenv.UniqueName(t, "sdk-direct")
	var viaEdge, direct serverRun
	var wg sync.WaitGroup
	var edgeOK, directOK bool
	for _, run := range []struct {
		name, url, app string
		out            *serverRun
		ok             *bool
	}{
		{"via-brink", e.url + "/api/", appEdge, &viaEdge, &edgeOK},
		{"direct-to-unleash", u.URL() + "/api/", appDirect, &direct, &directOK},
	} {
		wg.Go(func() {
			*run.ok = t.Run("run-"+run.name, func(t *testing.T) {
				runNode(t, node, "server-sdk.js", map[string]any{
					"url": run.url, "token": client, "appName": run.app, "instanceId": run.name,
					"flags": names, "contexts": ctxs,
					"refreshMs": 1000, "metricsMs": 1000, "minFeatureFetches": 2, "timeoutMs": 40000,
				}, run.out, 60*time.Second)
			})
		})
	}
	wg.Wait()
	if !edgeOK || !directOK {
		t.FailNow()
	}

	t.Run("sdk-runs", func(t *testing.T) {
		for _, r := range []struct {
			name string
			run  *serverRun
		}{{"via brink", &viaEdge}, {"direct", &direct}} {
			if !r.run.Synchronized || len(r.run.Errors) > 0 || len(r.run.Warnings) > 0 {
				t.Errorf("SDK %s: synchronized %v, errors %q, warnings %q; HTTP:%s",
					r.name, r.run.Synchronized, r.run.Errors, r.run.Warnings, r.run.exchangeLog())
			}
			if len(r.run.Results) != len(ctxs) {
				t.Fatalf("SDK %s answered %d contexts, want %d", r.name, len(r.run.Results), len(ctxs))
			}
			for _, n := range names {
				if !slices.Contains(r.run.Definitions, n) {
					t.Errorf("SDK %s did not load %s", r.name, n)
				}
			}
		}
		if got, want := slices.Sorted(slices.Values(viaEdge.Definitions)), slices.Sorted(slices.Values(direct.Definitions)); !slices.Equal(got, want) {
			t.Errorf("SDK via brink loaded %d flags, direct %d:\n via brink %v\n direct    %v", len(got), len(want), got, want)
		}
	})

	t.Run("evaluation-brink-vs-unleash", func(t *testing.T) {
		var diffs []string
		onCount := map[string]int{}
		for i, ctx := range ctxs {
			for _, n := range names {
				a, b := viaEdge.Results[i][n], direct.Results[i][n]
				if a.Enabled {
					onCount[n]++
				}
				edgeAsToggle := toggle{Name: n, Enabled: b.Enabled, Variant: b.Variant}
				if d := diffAnswer(a, edgeAsToggle); d != "" {
					d = strings.NewReplacer("SDK", "via brink", "brink", "direct").Replace(d)
					diffs = append(diffs, fmt.Sprintf("%s for %s: %s", n, jsonString(ctx), d))
				}
			}
		}
		reportDiffs(t, "Node SDK via brink vs Node SDK against Unleash", diffs)
		// The flags must discriminate: a rollout on for everyone or no one
		// would prove little.
		for _, n := range names {
			variants := map[string]int{}
			for _, r := range direct.Results {
				variants[r[n].Variant.Name]++
			}
			t.Logf("%-60s on for %2d/%d contexts, variants %v", n, onCount[n], len(ctxs), variants)
			switch role := n[len("parity-"):strings.IndexByte(n, '.')]; role {
			case "default", "strategy-variants":
				if onCount[n] != len(ctxs) {
					t.Errorf("%s on for %d/%d contexts, want all", n, onCount[n], len(ctxs))
				}
			case "disabled":
				if onCount[n] != 0 {
					t.Errorf("%s on for %d/%d contexts, want none", n, onCount[n], len(ctxs))
				}
			default:
				if onCount[n] == 0 || onCount[n] == len(ctxs) {
					t.Errorf("%s on for %d/%d contexts: the flag does not discriminate", n, onCount[n], len(ctxs))
				}
			}
			want := map[string][]string{
				"strategy-variants":         {"blue", "green"},
				"strategy-variants-default": {"a", "b", "c", "disabled"},
			}[n[len("parity-"):strings.IndexByte(n, '.')]]
			for _, v := range want {
				if variants[v] == 0 {
					t.Errorf("%s: variants %v, want each of %v picked for some context", n, variants, want)
					break
				}
			}
		}
	})

	t.Run("evaluation-sdk-vs-brink-frontend", func(t *testing.T) {
		var diffs []string
		for i, ctx := range ctxs {
			q := maps.Clone(ctx)
			q["appName"], q["environment"] = appEdge, "default"
			var resp struct {
				Toggles []toggle `json:"toggles"`
			}
			e.do(t, http.MethodPost, "/api/frontend/all", frontendTok, q, http.StatusOK, &resp)
			got := map[string]toggle{}
			for _, tg := range resp.Toggles {
				got[tg.Name] = tg
			}
			for _, n := range names {
				tg, ok := got[n]
				if !ok {
					diffs = append(diffs, fmt.Sprintf("%s: missing from brink's /api/frontend/all", n))
					continue
				}
				if d := diffAnswer(direct.Results[i][n], tg); d != "" {
					diffs = append(diffs, fmt.Sprintf("%s for %s: %s", n, jsonString(q), d))
				}
			}
		}
		reportDiffs(t, "Node SDK against Unleash vs brink /api/frontend/all", diffs)
	})

	t.Run("sdk-metrics-via-brink-reach-unleash", func(t *testing.T) {
		want := expectedCounts(viaEdge.Results)
		for _, n := range []string{names[0], names[len(names)-1]} {
			w := want[n]
			waitUnleashMetrics(t, u, n, appEdge, int64(w.Yes), int64(w.No), 30*time.Second)
			// The SDK that talked to Unleash directly counted the same.
			waitUnleashMetrics(t, u, n, appDirect, int64(w.Yes), int64(w.No), 15*time.Second)
		}
	})
}
