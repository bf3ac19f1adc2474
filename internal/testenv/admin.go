package testenv

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"
)

// The helpers below drive Unleash 8's admin API with the admin token; each
// fails the test on an unexpected answer. The paths and bodies were checked
// against unleash-server 8.2.0 (see testenv_test.go).

func (u *Unleash) send(req *http.Request) (int, []byte, error) {
	resp, err := u.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	return resp.StatusCode, b, err
}

// encodeBody turns a request body into bytes: nil is no body, []byte,
// json.RawMessage and string are sent as they are, anything else as JSON.
func encodeBody(body any) (io.Reader, error) {
	switch b := body.(type) {
	case nil:
		return nil, nil
	case []byte:
		return bytes.NewReader(b), nil
	case json.RawMessage:
		return bytes.NewReader(b), nil
	case string:
		return bytes.NewReader([]byte(b)), nil
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return nil, err
		}
		return bytes.NewReader(j), nil
	}
}

// Request sends method path (relative to URL) with token as Authorization
// (none when empty), body (encoded as for Admin) and extra headers given as
// name, value pairs; it returns the status and body and fails the test only
// when no answer came.
func (u *Unleash) Request(t testing.TB, method, path, token string, body any, header ...string) (int, []byte) {
	t.Helper()
	rd, err := encodeBody(body)
	if err != nil {
		t.Fatalf("testenv: %s %s: %v", method, path, err)
	}
	req, err := http.NewRequest(method, u.url+path, rd)
	if err != nil {
		t.Fatalf("testenv: %s %s: %v", method, path, err)
	}
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	status, b, err := u.send(req)
	if err != nil {
		t.Fatalf("testenv: %s %s: %v", method, path, err)
	}
	return status, b
}

// Admin sends an admin API request: body nil means none; []byte,
// json.RawMessage and string are sent verbatim; anything else is encoded as
// JSON. It returns status and body without judging them.
func (u *Unleash) Admin(t testing.TB, method, path string, body any) (int, []byte) {
	t.Helper()
	return u.Request(t, method, path, u.adminToken, body)
}

// adminWant is Admin that fails the test unless the status is want.
func (u *Unleash) adminWant(t testing.TB, want int, method, path string, body any) []byte {
	t.Helper()
	status, b := u.Admin(t, method, path, body)
	if status != want {
		t.Fatalf("testenv: %s %s: status %d, want %d: %s", method, path, status, want, truncate(b))
	}
	return b
}

func truncate(b []byte) string {
	if len(b) > 2000 {
		return string(b[:2000]) + "…"
	}
	return string(b)
}

func decode(t testing.TB, what string, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("testenv: %s: %v: %s", what, err, truncate(b))
	}
}

// CreateAPIToken creates an API token and returns its secret
// ("<project>:<env>.<hex>", "*:<env>.<hex>" for all projects). typ is
// "client", "backend" (Unleash 8 reports both as "client" from
// /edge/validate) or "frontend"; env is EnvDevelopment or EnvProduction (or
// one created through Admin); projects is ["*"] or ["default"] in OSS.
//
//	POST /api/admin/api-tokens {"tokenName","type","environment","projects"} → 201 {"secret",...}
func (u *Unleash) CreateAPIToken(t testing.TB, typ, env string, projects []string) string {
	t.Helper()
	body := map[string]any{
		"tokenName":   UniqueName(t, "token"),
		"type":        typ,
		"environment": env,
		"projects":    projects,
	}
	var out struct {
		Secret string `json:"secret"`
	}
	decode(t, "create API token", u.adminWant(t, http.StatusCreated, http.MethodPost, "/api/admin/api-tokens", body), &out)
	if out.Secret == "" {
		t.Fatal("testenv: create API token: no secret in the answer")
	}
	return out.Secret
}

// CreateFlag creates a release flag, disabled in every environment and with
// no strategies.
//
//	POST /api/admin/projects/{project}/features {"name","type":"release","impressionData":false} → 201
func (u *Unleash) CreateFlag(t testing.TB, project, name string) {
	t.Helper()
	body := map[string]any{"name": name, "type": "release", "impressionData": false}
	u.adminWant(t, http.StatusCreated, http.MethodPost, "/api/admin/projects/"+url.PathEscape(project)+"/features", body)
}

func featurePath(project, flag, rest string) string {
	return "/api/admin/projects/" + url.PathEscape(project) + "/features/" + url.PathEscape(flag) + rest
}

// AddStrategy adds a strategy to a flag in an environment and returns the
// strategy's id. strategy is the admin body, e.g.
//
//	{"name":"flexibleRollout","parameters":{"rollout":"50","stickiness":"default","groupId":"f"},
//	 "constraints":[...],"variants":[...],"segments":[<segment id>]}
//
//	POST /api/admin/projects/{project}/features/{flag}/environments/{env}/strategies → 200 {"id",...}
func (u *Unleash) AddStrategy(t testing.TB, project, flag, env string, strategy any) string {
	t.Helper()
	var out struct {
		ID string `json:"id"`
	}
	b := u.adminWant(t, http.StatusOK, http.MethodPost,
		featurePath(project, flag, "/environments/"+url.PathEscape(env)+"/strategies"), strategy)
	decode(t, "add strategy", b, &out)
	return out.ID
}

// EnableFlag turns a flag on in an environment.
//
//	POST /api/admin/projects/{project}/features/{flag}/environments/{env}/on → 200
func (u *Unleash) EnableFlag(t testing.TB, project, flag, env string) {
	t.Helper()
	u.adminWant(t, http.StatusOK, http.MethodPost, featurePath(project, flag, "/environments/"+url.PathEscape(env)+"/on"), nil)
}

// DisableFlag turns a flag off in an environment.
//
//	POST /api/admin/projects/{project}/features/{flag}/environments/{env}/off → 200
func (u *Unleash) DisableFlag(t testing.TB, project, flag, env string) {
	t.Helper()
	u.adminWant(t, http.StatusOK, http.MethodPost, featurePath(project, flag, "/environments/"+url.PathEscape(env)+"/off"), nil)
}

// ArchiveFlag archives a flag: it disappears from /api/client/features.
//
//	DELETE /api/admin/projects/{project}/features/{flag} → 202
func (u *Unleash) ArchiveFlag(t testing.TB, project, flag string) {
	t.Helper()
	u.adminWant(t, http.StatusAccepted, http.MethodDelete, featurePath(project, flag, ""), nil)
}

// CreateSegment creates a global segment and returns its id (for a
// strategy's "segments"). constraints is a JSON array of constraints, e.g.
// [{"contextName":"userId","operator":"IN","values":["a"]}].
//
//	POST /api/admin/segments {"name","constraints"} → 201 {"id",...}
func (u *Unleash) CreateSegment(t testing.TB, name string, constraints any) int {
	t.Helper()
	rd, err := encodeBody(constraints)
	if err != nil || rd == nil {
		t.Fatalf("testenv: create segment: bad constraints: %v", err)
	}
	raw, _ := io.ReadAll(rd)
	body := map[string]any{"name": name, "constraints": json.RawMessage(raw)}
	var out struct {
		ID int `json:"id"`
	}
	decode(t, "create segment", u.adminWant(t, http.StatusCreated, http.MethodPost, "/api/admin/segments", body), &out)
	return out.ID
}

// ClientSpec is the client-specification version that brink (like Unleash
// Edge) announces upstream.
const ClientSpec = "6.1.0"

// ClientFeatures fetches GET /api/client/features with a client/backend token
// and returns the JSON body (status must be 200). It sends
// Unleash-Client-Spec: 6.1.0 as Edge does: Unleash 8 then returns segments
// once, in a top-level "segments" list referenced by id from strategies;
// without that header it inlines each segment's constraints into the
// strategies and omits "segments". Changes made through the admin API show
// up within about a second (Unleash refreshes its revision id every second).
func (u *Unleash) ClientFeatures(t testing.TB, token string) []byte {
	t.Helper()
	status, b := u.Request(t, http.MethodGet, "/api/client/features", token, nil, "Unleash-Client-Spec", ClientSpec)
	if status != http.StatusOK {
		t.Fatalf("testenv: GET /api/client/features: status %d: %s", status, truncate(b))
	}
	return b
}

// ValidatedToken is one entry of Unleash's POST /edge/validate answer.
// Unleash 8.2 reports backend tokens as type "client" and sends no "status".
type ValidatedToken struct {
	Token       string   `json:"token"`
	Type        string   `json:"type"`
	Environment string   `json:"environment"`
	Projects    []string `json:"projects"`
}

// ValidateTokens asks Unleash which tokens are valid, as Edge does:
// POST /edge/validate {"tokens":[...]} without authorization → 200 with only
// the valid ones. (Unleash 8.2 answers 403 when the Authorization header holds
// a valid client or frontend token; an admin token or none is fine.)
func (u *Unleash) ValidateTokens(t testing.TB, tokens ...string) []ValidatedToken {
	t.Helper()
	status, b := u.Request(t, http.MethodPost, "/edge/validate", "", map[string]any{"tokens": tokens})
	if status != http.StatusOK {
		t.Fatalf("testenv: POST /edge/validate: status %d: %s", status, truncate(b))
	}
	var out struct {
		Tokens []ValidatedToken `json:"tokens"`
	}
	decode(t, "edge/validate", b, &out)
	return out.Tokens
}

// MetricsBucket is one hour of metrics Unleash recorded for a flag, per
// application and environment.
type MetricsBucket struct {
	FeatureName string           `json:"featureName"`
	AppName     string           `json:"appName"`
	Environment string           `json:"environment"`
	Timestamp   time.Time        `json:"timestamp"` // start of the hour
	Yes         int64            `json:"yes"`
	No          int64            `json:"no"`
	Variants    map[string]int64 `json:"variants"`
}

// Metrics reads what Unleash has stored for a flag over the last two hours
// (hourly buckets with counts).
// Unleash writes received metrics to its database every 5 s, and drops
// metrics for flags it does not know; poll with WaitMetrics.
//
//	GET /api/admin/client-metrics/features/{flag}/raw?hoursBack=2 → 200 {"data":[...]}
func (u *Unleash) Metrics(t testing.TB, flag string) []MetricsBucket {
	t.Helper()
	b := u.adminWant(t, http.StatusOK, http.MethodGet,
		"/api/admin/client-metrics/features/"+url.PathEscape(flag)+"/raw?hoursBack="+strconv.Itoa(2), nil)
	var out struct {
		Data []MetricsBucket `json:"data"`
	}
	decode(t, "client metrics", b, &out)
	// Unleash pads the answer with all-zero rows for the hours without
	// metrics; they say nothing, so they are left out.
	kept := out.Data[:0]
	for _, m := range out.Data {
		if m.Yes != 0 || m.No != 0 || len(m.Variants) != 0 {
			kept = append(kept, m)
		}
	}
	return kept
}

// WaitMetrics polls Metrics every half second until done accepts the
// buckets, and fails the test after timeout (15 s covers Unleash's 5 s
// flush comfortably).
func (u *Unleash) WaitMetrics(t testing.TB, flag string, timeout time.Duration, done func([]MetricsBucket) bool) []MetricsBucket {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		m := u.Metrics(t, flag)
		if done(m) {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("testenv: metrics for %q not as expected after %v; last: %+v", flag, timeout, m)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// MetricsTotal sums yes and no over buckets, optionally only for one
// application (appName "" means all).
func MetricsTotal(buckets []MetricsBucket, appName string) (yes, no int64) {
	for _, b := range buckets {
		if appName == "" || b.AppName == appName {
			yes += b.Yes
			no += b.No
		}
	}
	return yes, no
}

// AppInstance is one registered instance of an application.
type AppInstance struct {
	AppName     string    `json:"appName"`
	InstanceID  string    `json:"instanceId"`
	SDKVersion  string    `json:"sdkVersion"`
	SDKType     string    `json:"sdkType"`
	Environment string    `json:"environment"`
	ClientIP    string    `json:"clientIp"`
	LastSeen    time.Time `json:"lastSeen"`
}

// Application returns the instances Unleash knows of an application
// (registered through /api/client/register or the "applications" of a
// /api/client/metrics/bulk post), and false while it knows none. Unleash
// stores registrations every 20 s: poll for up to ~30 s.
//
//	GET /api/admin/metrics/applications/{appName} → 200 {"instances":[...]} | 404
func (u *Unleash) Application(t testing.TB, appName string) ([]AppInstance, bool) {
	t.Helper()
	status, b := u.Admin(t, http.MethodGet, "/api/admin/metrics/applications/"+url.PathEscape(appName), nil)
	switch status {
	case http.StatusNotFound:
		return nil, false
	case http.StatusOK:
	default:
		t.Fatalf("testenv: GET application %q: status %d: %s", appName, status, truncate(b))
	}
	var out struct {
		Instances []AppInstance `json:"instances"`
	}
	decode(t, "application", b, &out)
	return out.Instances, true
}
