package e2e

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// frontendRun is what e2e/node/frontend-sdk.js and the browser page print.
type frontendRun struct {
	SDKVersion string `json:"sdkVersion"`
	Snapshots  []struct {
		Context map[string]any    `json:"context"`
		Toggles []toggle          `json:"toggles"`
		Answers map[string]answer `json:"answers"`
	} `json:"snapshots"`
	Errors    []string `json:"errors"`
	Exchanges []struct {
		Method string `json:"method"`
		URL    string `json:"url"`
		Status int    `json:"status"`
		Error  string `json:"error"`
	} `json:"exchanges"`
}

func (r *frontendRun) exchangeLog() string {
	var b strings.Builder
	for _, x := range r.Exchanges {
		fmt.Fprintf(&b, "\n  %s %s -> %d %s", x.Method, x.URL, x.Status, x.Error)
	}
	return b.String()
}

// The frontend scenario: a first context, then two updateContext calls
// whose effect on some flags the dataset fixes.
var (
	feContext = map[string]any{
		"userId": "u2",
		"properties": map[string]any{
			"plan": "free", "country": "SE", "email": "bob@foo.bar", "age": "30", "version": "1.0.0", "tenant": "t1",
		},
	}
	feUpdates = []map[string]any{
		{"userId": "u3", "properties": map[string]any{
			"plan": "pro", "country": "NO", "email": "carol@example.com", "age": "18", "version": "2.5.1", "tenant": "t2",
		}},
		{"userId": "u42", "remoteAddress": "192.168.7.7", "properties": map[string]any{
			"plan": "enterprise", "email": "admin@example.com", "age": "42", "version": "1.2.3", "tenant": "t3",
		}},
	}
	// feExpect[i][flag] is isEnabled after snapshot i (0: initial context),
	// as the dataset defines it (independent of any engine's hashing).
	feExpect = []map[string]bool{
		{"e2e-default-on": true, "e2e-disabled": false, "e2e-user-with-id": false, "e2e-c-in": false, "e2e-segment": false, "e2e-c-userid-in": false, "e2e-remote-address": false},
		{"e2e-default-on": true, "e2e-user-with-id": true, "e2e-c-in": true, "e2e-segment": true, "e2e-c-userid-in": false, "e2e-c-str-ends-ci": true},
		{"e2e-user-with-id": false, "e2e-c-in": true, "e2e-c-userid-in": true, "e2e-remote-address": true, "e2e-c-str-starts": true, "e2e-c-semver": true, "e2e-c-num": true},
	}
	// After the last update e2e-variants is forced to "blue" by its
	// override on plan=enterprise.
	feLastVariant = answer{Enabled: true, Variant: variant{Name: "blue", Enabled: true, Payload: &payload{Type: "number", Value: "42"}}}
)

func frontendConfig(b *brink, app string, flags []string, usePOST bool) map[string]any {
	return map[string]any{
		"url": b.url + "/api/frontend", "token": frontendToken, "appName": app,
		"flags": flags, "context": feContext, "updates": feUpdates, "usePOST": usePOST,
		"timeoutMs": 20000,
	}
}

// TestFrontendSDKNode runs the official frontend SDK (npm
// unleash-proxy-client) in Node with Node's fetch, with GET and with POST
// requests.
func TestFrontendSDKNode(t *testing.T) {
	node := needNode(t)
	b := startBrink(t)
	flags := loadDataset(t).flagNames("")
	for _, usePOST := range []bool{false, true} {
		name := map[bool]string{false: "GET", true: "POST"}[usePOST]
		t.Run(name, func(t *testing.T) {
			app := "brink-e2e-frontend-node-" + strings.ToLower(name)
			var run frontendRun
			runNode(t, node, "frontend-sdk.js", frontendConfig(b, app, flags, usePOST), &run, 45*time.Second)
			if run.SDKVersion != frontendSDKVersion {
				t.Errorf("unleash-proxy-client %s, want %s", run.SDKVersion, frontendSDKVersion)
			}
			checkFrontendRun(t, b, &run, app, flags, usePOST)
		})
	}
}

// checkFrontendRun checks a frontend SDK run (Node or browser) against
// brink: every answer of every snapshot matches /api/frontend/all for the
// SDK's own context, the SDK's toggle list is brink's /api/frontend list,
// updateContext had the dataset's effect, every request succeeded and the
// metrics the SDK sent (202) are in metricsbatch.
func checkFrontendRun(t *testing.T, b *brink, run *frontendRun, app string, flags []string, usePOST bool) {
	t.Helper()
	if len(run.Errors) > 0 {
		t.Errorf("SDK errors: %q; HTTP:%s", run.Errors, run.exchangeLog())
	}
	if len(run.Snapshots) != 1+len(feUpdates) {
		t.Fatalf("SDK recorded %d snapshots, want %d; HTTP:%s", len(run.Snapshots), 1+len(feUpdates), run.exchangeLog())
	}

	// Requests: one fetch per context, one metrics post; all answered.
	wantMethod := map[bool]string{false: "GET", true: "POST"}[usePOST]
	fetches, metrics := 0, 0
	for _, x := range run.Exchanges {
		u, err := url.Parse(x.URL)
		if err != nil {
			t.Fatalf("SDK fetched %q: %v", x.URL, err)
		}
		switch {
		case u.Path == "/api/frontend":
			fetches++
			if x.Method != wantMethod || (x.Status != 200 && x.Status != 304) {
				t.Errorf("%s %s -> %d %s, want %s -> 200/304", x.Method, x.URL, x.Status, x.Error, wantMethod)
			}
		case u.Path == "/api/frontend/client/metrics":
			metrics++
			if x.Method != "POST" || x.Status != 202 {
				t.Errorf("%s %s -> %d %s, want POST -> 202", x.Method, x.URL, x.Status, x.Error)
			}
		default:
			t.Errorf("unexpected SDK request %s %s -> %d", x.Method, x.URL, x.Status)
		}
	}
	if fetches != 1+len(feUpdates) || metrics != 1 {
		t.Errorf("SDK made %d toggle fetches and %d metrics posts, want %d and 1; HTTP:%s", fetches, metrics, 1+len(feUpdates), run.exchangeLog())
	}

	var diffs []string
	sets := make([]map[string]answer, 0, len(run.Snapshots))
	for i, s := range run.Snapshots {
		sets = append(sets, s.Answers)
		// The SDK's own context (appName, environment, its sessionId, and
		// what updateContext set) is what it sent to brink.
		ctx := maps.Clone(s.Context)
		edge := b.frontendAll(t, ctx)
		for _, name := range flags {
			a, ok := s.Answers[name]
			if !ok {
				diffs = append(diffs, fmt.Sprintf("snapshot %d: SDK gave no answer for %s", i, name))
				continue
			}
			if d := diffAnswer(a, edge[name]); d != "" {
				diffs = append(diffs, fmt.Sprintf("snapshot %d, %s for %s: %s", i, name, jsonString(ctx), d))
			}
		}
		for name, want := range feExpect[i] {
			if got := s.Answers[name].Enabled; got != want {
				diffs = append(diffs, fmt.Sprintf("snapshot %d (context %s): %s is %v, the dataset says %v", i, jsonString(ctx), name, got, want))
			}
		}
		// The SDK's list is brink's /api/frontend answer to its request.
		enabled := b.frontendEnabled(t, ctx)
		if !slices.EqualFunc(s.Toggles, enabled, sameToggle) {
			diffs = append(diffs, fmt.Sprintf("snapshot %d: SDK toggles %s, brink /api/frontend %s", i, jsonString(s.Toggles), jsonString(enabled)))
		}
	}
	last := run.Snapshots[len(run.Snapshots)-1].Answers["e2e-variants"]
	last.Variant.FeatureEnabled = nil
	if d := diffAnswer(last, toggle{Enabled: feLastVariant.Enabled, Variant: feLastVariant.Variant}); d != "" {
		diffs = append(diffs, "after the last updateContext, e2e-variants (override plan=enterprise): "+d)
	}
	reportDiffs(t, "frontend SDK vs brink", diffs)

	reportDiffs(t, "metricsbatch for "+app+" vs the SDK's evaluations", diffCounts(expectedCounts(sets), b.metricsBatch(t).counts(app)))
}

func sameToggle(a, b toggle) bool {
	return a.Name == b.Name && a.Enabled == b.Enabled && a.ImpressionData == b.ImpressionData &&
		a.Variant.Name == b.Variant.Name && a.Variant.Enabled == b.Variant.Enabled && samePayload(a.Variant.Payload, b.Variant.Payload)
}
