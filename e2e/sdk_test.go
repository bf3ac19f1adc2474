package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Pinned SDK versions; scripts/install-sdk-deps.sh and e2e/node/package.json
// pin the same.
const (
	nodeSDKVersion     = "6.12.1"
	frontendSDKVersion = "3.8.2"
)

// sdkModules is where scripts/install-sdk-deps.sh installs the SDKs.
func sdkModules() string { return filepath.Join(repoRoot, ".cache", "sdk", "node_modules") }

// needNode returns the node binary (>= 20) once the SDKs are installed at
// their pinned versions; it skips (or fails under BRINK_REQUIRE_E2E=1)
// otherwise.
func needNode(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		requireDep(t, errors.New("node not found in PATH"))
	}
	out, err := exec.Command(node, "-p", "process.versions.node").Output()
	if err != nil {
		requireDep(t, fmt.Errorf("%s -p process.versions.node: %v", node, err))
	}
	ver := strings.TrimSpace(string(out))
	if major, _ := strconv.Atoi(strings.SplitN(ver, ".", 2)[0]); major < 20 {
		requireDep(t, fmt.Errorf("node %s is too old: the SDKs need >= 20", ver))
	}
	needSDKs(t)
	return node
}

// needSDKs checks that scripts/install-sdk-deps.sh installed the pinned
// SDKs into .cache/sdk; it skips (or fails under BRINK_REQUIRE_E2E=1)
// otherwise.
func needSDKs(t *testing.T) {
	t.Helper()
	for _, pkg := range []struct{ name, version string }{
		{"unleash-client", nodeSDKVersion},
		{"unleash-proxy-client", frontendSDKVersion},
	} {
		var meta struct{ Version string }
		raw, err := os.ReadFile(filepath.Join(sdkModules(), pkg.name, "package.json"))
		if err == nil {
			err = json.Unmarshal(raw, &meta)
		}
		if err != nil {
			requireDep(t, fmt.Errorf("npm %s not installed in .cache/sdk: %v", pkg.name, err))
		}
		if meta.Version != pkg.version {
			requireDep(t, fmt.Errorf("npm %s in .cache/sdk is %s, want %s", pkg.name, meta.Version, pkg.version))
		}
	}
}

// runNode runs e2e/node/SCRIPT with cfg (as a JSON file) and decodes the
// JSON object it prints into out. The script bounds its own waits; limit
// bounds the process (killed by PID when over).
func runNode(t *testing.T, node, script string, cfg any, out any, limit time.Duration) {
	t.Helper()
	raw, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(cfgPath, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(repoRoot, "e2e", "node", script), cfgPath)
	cmd.Env = append(os.Environ(), "NODE_PATH="+sdkModules(), "NODE_ENV=production")
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("node %s: still running after %v, killed; stderr:\n%s\nstdout:\n%s", script, limit, stderr.String(), tail(stdout.String(), 4000))
	}
	if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
		t.Fatalf("node %s: %v; output not JSON (%v); stderr:\n%s\nstdout:\n%s", script, runErr, err, stderr.String(), tail(stdout.String(), 4000))
	}
	if runErr != nil {
		var failure struct {
			Failure string `json:"failure"`
		}
		_ = json.Unmarshal(stdout.Bytes(), &failure)
		t.Fatalf("node %s: %v: %s; stderr:\n%s\nstdout:\n%s", script, runErr, failure.Failure, stderr.String(), tail(stdout.String(), 4000))
	}
	if s := strings.TrimSpace(stderr.String()); s != "" {
		t.Logf("node %s stderr:\n%s", script, s)
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// dataset is testdata/features.json, the bootstrap brink serves.
type dataset struct {
	Features []struct {
		Name    string `json:"name"`
		Project string `json:"project"`
	} `json:"features"`
}

func loadDataset(t *testing.T) dataset {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot, "e2e", "testdata", "features.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d dataset
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("testdata/features.json: %v", err)
	}
	return d
}

// flagNames lists the dataset's flags, optionally only those of project.
func (d dataset) flagNames(project string) []string {
	var names []string
	for _, f := range d.Features {
		if project == "" || f.Project == project {
			names = append(names, f.Name)
		}
	}
	sort.Strings(names)
	return names
}

// contexts are the evaluation contexts of the server-SDK test: 50 users,
// always with userId and sessionId (default stickiness then agrees between
// the Node SDK and Edge), ASCII values, and properties that hit each
// constraint both ways. A few properties are left out on purpose.
func contexts() []map[string]any {
	plans := []string{"free", "pro", "enterprise", "Pro"}
	countries := []string{"NO", "SE", "DK", "FI", "US", ""}
	emails := []string{"admin@example.com", "bob@EXAMPLE.COM", "test.user@example.org", "root@test.io", "carol@foo.bar"}
	ages := []string{"17", "18", "42", "64", "65", "99", "17.9", "40.5", ""}
	versions := []string{"1.2.3", "1.0.0", "2.0.0-beta.2", "2.0.0", "1.10.0", "2.5.1", "3.0.0", "2.0.0-beta.1"}
	addrs := []string{"10.0.0.1", "10.0.0.2", "192.168.1.20", "172.16.0.9", "192.169.0.1", "192.168.255.254"}
	times := []string{"2021-06-01T00:00:00Z", "2095-01-01T00:00:00Z", "2025-03-04T05:06:07.123Z", "", ""}
	var out []map[string]any
	for i := 1; i <= 50; i++ {
		props := map[string]any{
			"plan":    plans[i%len(plans)],
			"email":   emails[i%len(emails)],
			"version": versions[i%len(versions)],
			"tenant":  "t" + strconv.Itoa(i%11),
		}
		if c := countries[i%len(countries)]; c != "" {
			props["country"] = c
		}
		if a := ages[i%len(ages)]; a != "" {
			props["age"] = a
		}
		ctx := map[string]any{
			"userId":        "u" + strconv.Itoa(i),
			"sessionId":     "s" + strconv.Itoa(i*7919%1000),
			"remoteAddress": addrs[i%len(addrs)],
			"properties":    props,
		}
		if ts := times[i%len(times)]; ts != "" {
			ctx["currentTime"] = ts
		}
		out = append(out, ctx)
	}
	return out
}

// toggle is one evaluated toggle of brink's frontend API.
type toggle struct {
	Name           string  `json:"name"`
	Enabled        bool    `json:"enabled"`
	Variant        variant `json:"variant"`
	ImpressionData bool    `json:"impressionData"`
}

type variant struct {
	Name    string   `json:"name"`
	Enabled bool     `json:"enabled"`
	Payload *payload `json:"payload"`
	// FeatureEnabled is set by SDKs (getVariant), absent from brink.
	FeatureEnabled *bool `json:"feature_enabled,omitempty"`
}

type payload struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

func (p *payload) String() string {
	if p == nil {
		return "null"
	}
	return fmt.Sprintf("{%s %q}", p.Type, p.Value)
}

// answer is what an SDK said for one flag: isEnabled and getVariant.
type answer struct {
	Enabled bool    `json:"enabled"`
	Variant variant `json:"variant"`
}

// diffAnswer compares an SDK's answer with brink's toggle; it returns ""
// when they agree.
func diffAnswer(sdk answer, edge toggle) string {
	var d []string
	if sdk.Enabled != edge.Enabled {
		d = append(d, fmt.Sprintf("isEnabled: SDK %v, brink %v", sdk.Enabled, edge.Enabled))
	}
	if sdk.Variant.FeatureEnabled != nil && *sdk.Variant.FeatureEnabled != edge.Enabled {
		d = append(d, fmt.Sprintf("getVariant.feature_enabled: SDK %v, brink enabled %v", *sdk.Variant.FeatureEnabled, edge.Enabled))
	}
	if sdk.Variant.Name != edge.Variant.Name || sdk.Variant.Enabled != edge.Variant.Enabled {
		d = append(d, fmt.Sprintf("getVariant: SDK %s/%v, brink %s/%v", sdk.Variant.Name, sdk.Variant.Enabled, edge.Variant.Name, edge.Variant.Enabled))
	}
	if !samePayload(sdk.Variant.Payload, edge.Variant.Payload) {
		d = append(d, fmt.Sprintf("payload: SDK %v, brink %v", sdk.Variant.Payload, edge.Variant.Payload))
	}
	return strings.Join(d, "; ")
}

func samePayload(a, b *payload) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

// flagCount is one flag's metrics: yes/no and variant counts.
type flagCount struct {
	Yes      int            `json:"yes"`
	No       int            `json:"no"`
	Variants map[string]int `json:"variants"`
}

// expectedCounts is what an SDK must have counted (and brink must show in
// metricsbatch) after one isEnabled and one getVariant per flag per answer
// set: yes/no from both calls, the variant name from getVariant.
func expectedCounts(sets []map[string]answer) map[string]*flagCount {
	out := map[string]*flagCount{}
	for _, set := range sets {
		for name, a := range set {
			c := out[name]
			if c == nil {
				c = &flagCount{Variants: map[string]int{}}
				out[name] = c
			}
			for _, on := range []bool{a.Enabled, a.Variant.FeatureEnabled != nil && *a.Variant.FeatureEnabled} {
				if on {
					c.Yes++
				} else {
					c.No++
				}
			}
			c.Variants[a.Variant.Name]++
		}
	}
	return out
}

// diffCounts lists where brink's metrics differ from the expected counts.
func diffCounts(want, got map[string]*flagCount) []string {
	var d []string
	names := make([]string, 0, len(want)+len(got))
	for n := range want {
		names = append(names, n)
	}
	for n := range got {
		if want[n] == nil {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		w, g := want[n], got[n]
		switch {
		case g == nil:
			d = append(d, fmt.Sprintf("%s: missing from metricsbatch (want yes=%d no=%d variants=%v)", n, w.Yes, w.No, w.Variants))
		case w == nil:
			d = append(d, fmt.Sprintf("%s: in metricsbatch (yes=%d no=%d) but never evaluated", n, g.Yes, g.No))
		case w.Yes != g.Yes || w.No != g.No || !mapsEqual(w.Variants, g.Variants):
			d = append(d, fmt.Sprintf("%s: metricsbatch yes=%d no=%d variants=%v, want yes=%d no=%d variants=%v", n, g.Yes, g.No, g.Variants, w.Yes, w.No, w.Variants))
		}
	}
	return d
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// reportDiffs fails the test with at most 40 lines of differences.
func reportDiffs(t *testing.T, what string, diffs []string) {
	t.Helper()
	if len(diffs) == 0 {
		return
	}
	shown := diffs
	if len(shown) > 40 {
		shown = append(slices.Clone(shown[:40]), fmt.Sprintf("… and %d more", len(diffs)-40))
	}
	t.Errorf("%s: %d difference(s):\n  %s", what, len(diffs), strings.Join(shown, "\n  "))
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
