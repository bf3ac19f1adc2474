package api

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"

	"github.com/brink-edge/brink/flags"
)

// testFlags is the small flag set of the tests: two projects, a disabled
// flag, user, address and property targeting, a name prefix and a variant.
const testFlags = `{"version":2,"features":[
 {"name":"alpha","enabled":true,"project":"default","strategies":[{"name":"default"}]},
 {"name":"beta","enabled":false,"project":"default","strategies":[{"name":"default"}]},
 {"name":"gamma","enabled":true,"project":"other","strategies":[{"name":"default"}]},
 {"name":"users","enabled":true,"project":"default","strategies":[{"name":"userWithId","parameters":{"userIds":"u1,u2"}}]},
 {"name":"ip","enabled":true,"project":"default","strategies":[{"name":"remoteAddress","parameters":{"IPs":"10.1.2.3"}}]},
 {"name":"prop","enabled":true,"project":"default","strategies":[{"name":"default","constraints":[{"contextName":"companyId","operator":"IN","values":["bricks"]}]}]},
 {"name":"prefix.one","enabled":true,"project":"default","strategies":[{"name":"default"}]},
 {"name":"variant","enabled":true,"project":"default","strategies":[{"name":"default"}],
  "variants":[{"name":"red","weight":1000,"weightType":"variable","stickiness":"default","payload":{"type":"string","value":"x"}}]}
]}`

func compile(t testing.TB, src string) *flags.Plan {
	t.Helper()
	cf, err := flags.DecodeClientFeatures([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return flags.Compile(cf)
}

// Test tokens.
const (
	tokClient        = "*:development.client"
	tokClientOther   = "other:development.clientother"
	tokFront         = "*:development.front"
	tokFrontOther    = "other:development.frontother"
	tokPlainClient   = "plain-client-secret"
	tokPlainFront    = "plain-front-secret"
	tokBoth          = "plain-both-secret"
	tokAdmin         = "*:*.admin"
	tokPending       = "*:development.pending"
	tokInvalid       = "*:development.invalid"
	tokFrontProd     = "*:production.frontprod"
	tokClientProd    = "*:production.clientprod"
	tokFrontMulti    = "[]:development.frontmulti"
	peerDefault      = "192.0.2.10"
	testVersionLabel = "test-1.2.3"
)

func testTokens() *flags.TokenCache {
	c := flags.OfflineTokens(
		[]string{tokClient, tokClientOther, tokPlainClient, tokBoth, tokClientProd},
		[]string{tokFront, tokFrontOther, tokPlainFront, tokBoth, tokFrontProd},
	)
	c.Add(flags.Token{Raw: tokAdmin, Type: flags.TokenAdmin, Projects: []string{"*"}, Status: flags.TokenTrusted})
	c.Add(flags.Token{Raw: tokPending, Type: flags.TokenClient, Environment: "development", Projects: []string{"*"}, Status: flags.TokenUnknown})
	c.Add(flags.Token{Raw: tokInvalid, Type: flags.TokenClient, Environment: "development", Projects: []string{"*"}, Status: flags.TokenInvalid})
	c.Add(flags.Token{Raw: tokFrontMulti, Type: flags.TokenFrontend, Environment: "development", Projects: []string{"other"}, Status: flags.TokenValidated})
	return c
}

// testServer runs a Handler behind a real fasthttp server on an in-memory
// listener.
type testServer struct {
	t  testing.TB
	h  *Handler
	ln *fasthttputil.InmemoryListener
}

func newTestServer(t testing.TB, cfg Config) *testServer {
	t.Helper()
	if cfg.Store == nil {
		cfg.Store = new(flags.Store)
		cfg.Store.Publish("", compile(t, testFlags), "test")
	}
	if cfg.Tokens == nil {
		cfg.Tokens = testTokens()
	}
	if cfg.Version == "" {
		cfg.Version = testVersionLabel
	}
	if cfg.MinCompressSize == 0 {
		cfg.MinCompressSize = 64
	}
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln := fasthttputil.NewInmemoryListener()
	srv := &fasthttp.Server{Handler: h.Handle, NoDefaultServerHeader: true}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown(); _ = ln.Close() })
	return &testServer{t: t, h: h, ln: ln}
}

// req is one test request.
type req struct {
	method, uri, token, body string
	peer                     string
	headers                  []string // name, value pairs
}

// do sends r and returns the response (caller releases nothing; the
// response is a copy).
func (s *testServer) do(r req) *fasthttp.Response {
	s.t.Helper()
	peer := r.peer
	if peer == "" {
		peer = peerDefault
	}
	addr := &net.TCPAddr{IP: net.ParseIP(peer), Port: 40000}
	c := &fasthttp.HostClient{
		Addr: "brink.test",
		Dial: func(string) (net.Conn, error) { return s.ln.DialWithLocalAddr(addr) },
	}
	rq := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(rq)
	rq.SetRequestURI("http://brink.test" + r.uri)
	method := r.method
	if method == "" {
		method = fasthttp.MethodGet
	}
	rq.Header.SetMethod(method)
	if r.token != "" {
		rq.Header.Set("Authorization", r.token)
	}
	for i := 0; i+1 < len(r.headers); i += 2 {
		rq.Header.Set(r.headers[i], r.headers[i+1])
	}
	if r.body != "" {
		rq.Header.SetContentType("application/json")
		rq.SetBodyString(r.body)
	}
	resp := new(fasthttp.Response)
	if err := c.DoTimeout(rq, resp, 5*time.Second); err != nil {
		s.t.Fatalf("%s %s: %v", method, r.uri, err)
	}
	return resp
}

// toggleNames returns the names in a frontend answer.
func toggleNames(t testing.TB, body []byte) []string {
	t.Helper()
	var ans struct {
		Toggles []struct {
			Name    string `json:"name"`
			Enabled bool   `json:"enabled"`
		} `json:"toggles"`
	}
	if err := json.Unmarshal(body, &ans); err != nil {
		t.Fatalf("decoding %s: %v", body, err)
	}
	names := []string{}
	for _, tg := range ans.Toggles {
		names = append(names, tg.Name)
	}
	return names
}

func featureNames(t testing.TB, body []byte) []string {
	t.Helper()
	var cf flags.ClientFeatures
	if err := json.Unmarshal(body, &cf); err != nil {
		t.Fatalf("decoding %s: %v", body, err)
	}
	names := []string{}
	for _, f := range cf.Features {
		names = append(names, f.Name)
	}
	return names
}

func TestNewRequiresStoreAndTokens(t *testing.T) {
	if _, err := New(Config{Tokens: new(flags.TokenCache)}); err != ErrNoStore {
		t.Errorf("New without Store = %v", err)
	}
	if _, err := New(Config{Store: new(flags.Store)}); err != ErrNoTokens {
		t.Errorf("New without Tokens = %v", err)
	}
}

func TestEndpoints(t *testing.T) {
	s := newTestServer(t, Config{})
	allEnabled := "alpha,gamma,prefix.one,variant"
	tests := []struct {
		name   string
		r      req
		status int
		// names, when set, is the comma-joined toggle (frontend) or feature
		// (client) list expected.
		names string
		// contains, when set, must be in the body.
		contains string
	}{
		// Client API.
		{"client features", req{uri: "/api/client/features", token: tokClient}, 200, "alpha,beta,gamma,ip,prefix.one,prop,users,variant", `"query":{"projects":["*"],"environment":"development","inlineSegmentConstraints":false}`},
		{"client features POST", req{method: "POST", uri: "/api/client/features", token: tokClient}, 200, "alpha,beta,gamma,ip,prefix.one,prop,users,variant", ""},
		{"client features project filter", req{uri: "/api/client/features", token: tokClientOther}, 200, "gamma", `"projects":["other"]`},
		{"client features namePrefix", req{uri: "/api/client/features?namePrefix=prefix.", token: tokClient}, 200, "prefix.one", `"namePrefix":"prefix."`},
		{"client features offline token", req{uri: "/api/client/features", token: tokPlainClient}, 200, "alpha,beta,gamma,ip,prefix.one,prop,users,variant", ""},
		{"client features untyped token", req{uri: "/api/client/features", token: tokBoth}, 200, "alpha,beta,gamma,ip,prefix.one,prop,users,variant", ""},
		{"client feature", req{uri: "/api/client/features/beta", token: tokClient}, 200, "", `"name":"beta"`},
		{"client feature outside project", req{uri: "/api/client/features/alpha", token: tokClientOther}, 404, "", ""},
		{"client feature unknown", req{uri: "/api/client/features/nope", token: tokClient}, 404, "", ""},
		{"client feature POST", req{method: "POST", uri: "/api/client/features/beta", token: tokClient}, 405, "", ""},
		{"client features trailing slash", req{uri: "/api/client/features/", token: tokClient}, 200, "alpha,beta,gamma,ip,prefix.one,prop,users,variant", ""},
		{"client features repeated slashes", req{uri: "//api///client//features", token: tokClient}, 200, "alpha,beta,gamma,ip,prefix.one,prop,users,variant", ""},

		// Token rules.
		{"no token", req{uri: "/api/client/features"}, 403, "", ""},
		{"unknown token", req{uri: "/api/client/features", token: "*:development.nope"}, 403, "", ""},
		{"malformed token", req{uri: "/api/frontend", token: "garbage"}, 403, "", ""},
		{"offline token is exact", req{uri: "/api/client/features", token: tokPlainClient + "x"}, 403, "", ""},
		{"pending token", req{uri: "/api/client/features", token: tokPending}, 401, "", ""},
		{"invalid token", req{uri: "/api/client/features", token: tokInvalid}, 403, "", ""},
		{"admin token", req{uri: "/api/client/features", token: tokAdmin}, 403, "", ""},
		{"frontend token on client path", req{uri: "/api/client/features", token: tokFront}, 403, "", ""},
		{"client token on frontend path", req{uri: "/api/frontend", token: tokClient}, 403, "", ""},
		{"client token on proxy path", req{uri: "/api/proxy", token: tokClient}, 403, "", ""},
		{"client token on frontend metrics", req{method: "POST", uri: "/api/frontend/client/metrics", token: tokClient, body: `{"appName":"a","bucket":{"start":"2024-01-01T00:00:00Z","stop":"2024-01-01T00:01:00Z","toggles":{}}}`}, 202, "", ""},
		{"frontend token on client metrics", req{method: "POST", uri: "/api/client/metrics", token: tokFront, body: `{"appName":"a"}`}, 403, "", ""},

		// Frontend API.
		{"frontend", req{uri: "/api/frontend", token: tokFront}, 200, allEnabled, ""},
		{"frontend POST", req{method: "POST", uri: "/api/frontend", token: tokFront}, 200, allEnabled, ""},
		{"proxy", req{uri: "/api/proxy", token: tokFront}, 200, allEnabled, ""},
		{"frontend all", req{uri: "/api/frontend/all", token: tokFront}, 200, "alpha,beta,gamma,ip,prefix.one,prop,users,variant", `"enabled":false`},
		{"proxy all", req{uri: "/api/proxy/all", token: tokFront}, 200, "alpha,beta,gamma,ip,prefix.one,prop,users,variant", ""},
		{"frontend project filter", req{uri: "/api/frontend", token: tokFrontOther}, 200, "gamma", ""},
		{"frontend multi-project token", req{uri: "/api/frontend/all", token: tokFrontMulti}, 200, "gamma", ""},
		{"frontend offline token", req{uri: "/api/frontend", token: tokPlainFront}, 200, allEnabled, ""},
		{"frontend userId", req{uri: "/api/frontend?userId=u1", token: tokFront}, 200, "alpha,gamma,prefix.one,users,variant", ""},
		{"frontend bare property", req{uri: "/api/frontend?companyId=bricks", token: tokFront}, 200, "alpha,gamma,prefix.one,prop,variant", ""},
		{"frontend properties[]", req{uri: "/api/frontend?properties[companyId]=bricks", token: tokFront}, 200, "alpha,gamma,prefix.one,prop,variant", ""},
		{"frontend encoded brackets", req{uri: "/api/frontend?properties%5BcompanyId%5D=bricks", token: tokFront}, 200, "alpha,gamma,prefix.one,prop,variant", ""},
		{"frontend userId from properties", req{uri: "/api/frontend?properties[userId]=u2", token: tokFront}, 200, "alpha,gamma,prefix.one,users,variant", ""},
		{"frontend remoteAddress query", req{uri: "/api/frontend?remoteAddress=10.1.2.3", token: tokFront}, 200, "alpha,gamma,ip,prefix.one,variant", ""},
		{"frontend remoteAddress from peer", req{uri: "/api/frontend", token: tokFront, peer: "10.1.2.3"}, 200, "alpha,gamma,ip,prefix.one,variant", ""},
		{"frontend POST context", req{method: "POST", uri: "/api/frontend", token: tokFront, body: `{"userId":"u1","properties":{"companyId":"bricks"}}`}, 200, "alpha,gamma,prefix.one,prop,users,variant", ""},
		{"frontend POST wrapped context", req{method: "POST", uri: "/api/frontend", token: tokFront, body: `{"context":{"userId":"u2","companyId":"bricks"}}`}, 200, "alpha,gamma,prefix.one,prop,users,variant", ""},
		{"frontend POST bad JSON", req{method: "POST", uri: "/api/frontend", token: tokFront, body: `{"userId":`}, 400, "", "not valid JSON"},
		{"frontend POST not object", req{method: "POST", uri: "/api/frontend", token: tokFront, body: `[1]`}, 400, "", "JSON object"},
		{"frontend bad query", req{uri: "/api/frontend?properties=x", token: tokFront}, 400, "", "properties"},
		{"frontend nested query", req{uri: "/api/frontend?properties[a][b]=x", token: tokFront}, 400, "", "nested"},
		{"frontend feature", req{uri: "/api/frontend/features/beta", token: tokFront}, 200, "", `"name":"beta","enabled":false`},
		{"frontend feature variant", req{uri: "/api/frontend/features/variant", token: tokFront}, 200, "", `"name":"red"`},
		{"frontend feature unknown", req{uri: "/api/frontend/features/nope", token: tokFront}, 404, "", ""},
		{"frontend feature outside project", req{uri: "/api/frontend/features/alpha", token: tokFrontOther}, 404, "", ""},
		{"no proxy features route", req{uri: "/api/proxy/features/alpha", token: tokFront}, 404, "", ""},
		{"frontend DELETE", req{method: "DELETE", uri: "/api/frontend", token: tokFront}, 405, "", ""},

		// Metrics and registration.
		{"client metrics", req{method: "POST", uri: "/api/client/metrics", token: tokClient, body: `{"appName":"svc","instanceId":"i","bucket":{"start":"2024-01-01T10:00:00Z","stop":"2024-01-01T10:01:00Z","toggles":{"alpha":{"yes":3,"no":1,"variants":{}}}}}`}, 202, "", "null"},
		{"client metrics no app", req{method: "POST", uri: "/api/client/metrics", token: tokClient, body: `{"bucket":{"start":"2024-01-01T10:00:00Z","stop":"2024-01-01T10:01:00Z","toggles":{}}}`}, 400, "", "appName"},
		{"client metrics bad bucket", req{method: "POST", uri: "/api/client/metrics", token: tokClient, body: `{"appName":"a","bucket":{"start":"2024-01-01T10:01:00Z","stop":"2024-01-01T10:00:00Z","toggles":{}}}`}, 400, "", "bucket.stop"},
		{"client metrics bad JSON", req{method: "POST", uri: "/api/client/metrics", token: tokClient, body: `{`}, 400, "", "JSON"},
		{"client metrics empty", req{method: "POST", uri: "/api/client/metrics", token: tokClient}, 400, "", "empty"},
		{"client metrics wrong type", req{method: "POST", uri: "/api/client/metrics", token: tokClient, body: `{"appName":5}`}, 400, "", "appName"},
		{"client metrics GET", req{uri: "/api/client/metrics", token: tokClient}, 405, "", ""},
		{"bulk metrics", req{method: "POST", uri: "/api/client/metrics/bulk", token: tokClient, body: `{"applications":[{"appName":"down"}],"metrics":[{"featureName":"alpha","appName":"down","environment":"development","timestamp":"2024-01-01T10:00:00Z","yes":1,"no":0,"variants":{}}]}`}, 202, "", ""},
		{"bulk metrics invalid", req{method: "POST", uri: "/api/client/metrics/bulk", token: tokClient, body: `{"metrics":[{"appName":"down","timestamp":"2024-01-01T10:00:00Z"}]}`}, 400, "", "featureName"},
		{"edge instance data", req{method: "POST", uri: "/api/client/metrics/edge", token: tokClient, body: `{"identifier":"down-1","appName":"edge"}`}, 202, "", ""},
		{"edge instance data no id", req{method: "POST", uri: "/api/client/metrics/edge", token: tokClient, body: `{"appName":"edge"}`}, 400, "", "identifier"},
		{"register", req{method: "POST", uri: "/api/client/register", token: tokClient, body: `{"appName":"svc","instanceId":"i","interval":15000,"started":"2024-01-01T00:00:00Z","strategies":["default"]}`}, 202, "", ""},
		{"register bad", req{method: "POST", uri: "/api/client/register", token: tokClient, body: `{"instanceId":"i"}`}, 400, "", "appName"},
		{"frontend metrics", req{method: "POST", uri: "/api/frontend/client/metrics", token: tokFront, body: `{"appName":"web","bucket":{"start":"2024-01-01T10:00:00Z","stop":"2024-01-01T10:01:00Z","toggles":{"alpha":{"yes":1,"no":0}}}}`}, 202, "", ""},
		{"proxy metrics", req{method: "POST", uri: "/api/proxy/client/metrics", token: tokFront, body: `{"appName":"web","bucket":{"start":"2024-01-01T10:00:00Z","stop":"2024-01-01T10:01:00Z","toggles":{}}}`}, 202, "", ""},
		{"frontend all metrics", req{method: "POST", uri: "/api/frontend/all/client/metrics", token: tokFront, body: `{"appName":"web"}`}, 202, "", ""},
		{"proxy all metrics", req{method: "POST", uri: "/api/proxy/all/client/metrics", token: tokFront, body: `{"appName":"web"}`}, 202, "", ""},
		{"frontend register", req{method: "POST", uri: "/api/frontend/client/register", token: tokFront, body: `{"appName":"web"}`}, 202, "", ""},
		{"proxy register", req{method: "POST", uri: "/api/proxy/client/register", token: tokFront, body: `{"appName":"web"}`}, 202, "", ""},

		// Edge API and backstage.
		{"validate", req{method: "POST", uri: "/edge/validate", body: `{"tokens":["` + tokClient + `","nope","` + tokInvalid + `","` + tokFront + `"]}`}, 200, "", `{"tokens":[{"token":"*:development.client","type":"client","environment":"development","projects":["*"],"status":"Validated"},{"token":"*:development.front","type":"frontend","environment":"development","projects":["*"],"status":"Validated"}]}`},
		{"validate bad", req{method: "POST", uri: "/edge/validate", body: `tokens`}, 400, "", ""},
		{"health", req{uri: "/internal-backstage/health"}, 200, "", `{"status":"OK"}`},
		{"ready", req{uri: "/internal-backstage/ready"}, 200, "", `{"status":"READY"}`},
		{"prometheus", req{uri: "/internal-backstage/metrics"}, 200, "", `brink_http_requests_total{path="/api/frontend",status="200"}`},
		{"tokens", req{uri: "/internal-backstage/tokens"}, 200, "", `"invalidTokenCount":2`},
		{"features", req{uri: "/internal-backstage/features"}, 200, "", `"name":"alpha"`},
		{"metricsbatch", req{uri: "/internal-backstage/metricsbatch"}, 200, "", `"applications":[`},
		{"instancedata", req{uri: "/internal-backstage/instancedata"}, 200, "", `"this_instance":{"identifier":"brink@`},
		{"unknown route", req{uri: "/api/nope", token: tokClient}, 404, "", ""},
		{"root", req{uri: "/"}, 404, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := s.do(tt.r)
			body := resp.Body()
			if resp.StatusCode() != tt.status {
				t.Fatalf("%s %s = %d %s, want %d", tt.r.method, tt.r.uri, resp.StatusCode(), body, tt.status)
			}
			if tt.names != "" {
				var got []string
				if strings.HasPrefix(tt.r.uri, "/api/client") || strings.Contains(tt.r.uri, "/client/") {
					got = featureNames(t, body)
				} else {
					got = toggleNames(t, body)
				}
				if strings.Join(got, ",") != tt.names {
					t.Errorf("names = %v, want %s", got, tt.names)
				}
			}
			if tt.contains != "" && !bytes.Contains(body, []byte(tt.contains)) {
				t.Errorf("body %s does not contain %s", body, tt.contains)
			}
		})
	}
}

func TestTokensEndpointAnonymises(t *testing.T) {
	s := newTestServer(t, Config{})
	body := s.do(req{uri: "/internal-backstage/tokens"}).Body()
	for _, secret := range []string{tokPlainClient, tokClient} {
		if bytes.Contains(body, []byte(`"`+secret+`"`)) {
			t.Errorf("tokens endpoint shows %q in clear: %s", secret, body)
		}
	}
}

func TestRegisterHeaders(t *testing.T) {
	s := newTestServer(t, Config{})
	resp := s.do(req{method: "POST", uri: "/api/client/register", token: tokClient, body: `{"appName":"svc"}`})
	if got := string(resp.Header.Peek("X-Edge-Version")); got != testVersionLabel {
		t.Errorf("X-Edge-Version = %q, want %q", got, testVersionLabel)
	}
	if len(resp.Body()) != 0 {
		t.Errorf("register body = %q, want empty", resp.Body())
	}
	apps := s.h.Metrics().Snapshot().Applications
	if len(apps) != 1 || apps[0].Environment != "development" || apps[0].SDKType != "backend" {
		t.Errorf("registered = %+v", apps)
	}
}

func TestMetricsAggregatedUnderTokenEnvironment(t *testing.T) {
	s := newTestServer(t, Config{})
	body := `{"appName":"svc","environment":"spoofed","bucket":{"start":"2024-01-01T10:00:00Z","stop":"2024-01-01T10:01:00Z","toggles":{"alpha":{"yes":2,"no":1}}}}`
	for _, tok := range []string{tokClient, tokClient, tokPlainClient} {
		if r := s.do(req{method: "POST", uri: "/api/client/metrics", token: tok, body: body}); r.StatusCode() != 202 {
			t.Fatalf("status %d", r.StatusCode())
		}
	}
	batch := s.h.Metrics().Snapshot()
	got := map[string]uint32{}
	for _, m := range batch.Metrics {
		got[m.Key.Environment] += m.Bucket.Yes
	}
	// The offline token has no environment: "development" as in Edge.
	if len(got) != 1 || got["development"] != 6 {
		t.Errorf("yes counts by environment = %v", got)
	}
	mb := s.do(req{uri: "/internal-backstage/metricsbatch"}).Body()
	if !bytes.Contains(mb, []byte(`"key":{"app_name":"svc","feature_name":"alpha","environment":"development"`)) {
		t.Errorf("metricsbatch = %s", mb)
	}
}

func TestETag(t *testing.T) {
	s := newTestServer(t, Config{})
	for _, r := range []req{
		{uri: "/api/client/features", token: tokClient},
		{uri: "/api/frontend?userId=u1", token: tokFront},
		{method: "POST", uri: "/api/frontend", token: tokFront, body: `{"userId":"u1"}`},
		{uri: "/api/client/features/alpha", token: tokClient},
		{uri: "/api/frontend/features/alpha", token: tokFront},
	} {
		first := s.do(r)
		etag := string(first.Header.Peek("ETag"))
		if first.StatusCode() != 200 || len(etag) != 18 || etag[0] != '"' || etag[17] != '"' {
			t.Fatalf("%s: status %d ETag %q", r.uri, first.StatusCode(), etag)
		}
		again := s.do(r)
		if string(again.Header.Peek("ETag")) != etag || !bytes.Equal(again.Body(), first.Body()) {
			t.Errorf("%s: ETag not stable", r.uri)
		}
		for _, inm := range []string{etag, `"x", ` + etag, "W/" + etag, "*", strings.Trim(etag, `"`)} {
			r2 := r
			r2.headers = []string{"If-None-Match", inm}
			nm := s.do(r2)
			if nm.StatusCode() != 304 || len(nm.Body()) != 0 || string(nm.Header.Peek("ETag")) != etag {
				t.Errorf("%s If-None-Match %s: %d %q", r.uri, inm, nm.StatusCode(), nm.Body())
			}
		}
		r2 := r
		r2.headers = []string{"If-None-Match", `"0000000000000000"`}
		if nm := s.do(r2); nm.StatusCode() != 200 {
			t.Errorf("%s stale If-None-Match: %d", r.uri, nm.StatusCode())
		}
	}
	// A different context gives a different answer and tag.
	a := s.do(req{uri: "/api/frontend?userId=u1", token: tokFront})
	b := s.do(req{uri: "/api/frontend?userId=zz", token: tokFront})
	if bytes.Equal(a.Header.Peek("ETag"), b.Header.Peek("ETag")) {
		t.Error("different answers share an ETag")
	}
}

func TestClientFeaturesCachedPerVersion(t *testing.T) {
	store := new(flags.Store)
	store.Publish("", compile(t, testFlags), "test")
	s := newTestServer(t, Config{Store: store})
	r := req{uri: "/api/client/features", token: tokClient}
	hits := featureCacheHits.Get()
	first := s.do(r)
	s.do(r)
	s.do(req{uri: "/api/client/features", token: tokClient, headers: []string{"Accept-Encoding", "gzip"}})
	if featureCacheHits.Get()-hits < 2 {
		t.Errorf("repeated requests did not hit the cache")
	}
	n := s.h.features.len()
	s.do(req{uri: "/api/client/features?namePrefix=a", token: tokClient})
	s.do(req{uri: "/api/client/features", token: tokClientOther})
	if s.h.features.len() != n+2 {
		t.Errorf("cache has %d entries, want %d", s.h.features.len(), n+2)
	}
	// A new version replaces the answer and drops the stale entries.
	store.Publish("", compile(t, `{"version":2,"features":[{"name":"only","enabled":true,"strategies":[{"name":"default"}]}]}`), "test")
	second := s.do(r)
	if got := featureNames(t, second.Body()); strings.Join(got, ",") != "only" {
		t.Errorf("after publish: %v", got)
	}
	if bytes.Equal(first.Header.Peek("ETag"), second.Header.Peek("ETag")) {
		t.Error("ETag unchanged after publish")
	}
	if s.h.features.len() != 1 {
		t.Errorf("stale entries kept: %d", s.h.features.len())
	}
}

func TestCompression(t *testing.T) {
	s := newTestServer(t, Config{})
	for _, r := range []req{
		{uri: "/api/client/features", token: tokClient},
		{uri: "/api/frontend/all?userId=u1", token: tokFront},
	} {
		plain := s.do(r)
		if len(plain.Header.ContentEncoding()) != 0 {
			t.Fatalf("%s: encoded without Accept-Encoding", r.uri)
		}
		for _, tc := range []struct{ accept, want string }{
			{"gzip", "gzip"},
			{"zstd", "zstd"},
			{"gzip, deflate, br, zstd", "zstd"},
			{"zstd;q=0.5, gzip", "gzip"},
			{"gzip;q=0, zstd;q=0", ""},
			{"br", ""},
			{"*", "zstd"},
		} {
			r2 := r
			r2.headers = []string{"Accept-Encoding", tc.accept}
			resp := s.do(r2)
			if got := string(resp.Header.ContentEncoding()); got != tc.want {
				t.Errorf("%s Accept-Encoding %q: Content-Encoding %q, want %q", r.uri, tc.accept, got, tc.want)
				continue
			}
			if !strings.Contains(string(resp.Header.Peek("Vary")), "Accept-Encoding") {
				t.Errorf("%s: no Vary: Accept-Encoding", r.uri)
			}
			if !bytes.Equal(resp.Header.Peek("ETag"), plain.Header.Peek("ETag")) {
				t.Errorf("%s: ETag differs by encoding", r.uri)
			}
			var decoded []byte
			switch tc.want {
			case "gzip":
				zr, err := gzip.NewReader(bytes.NewReader(resp.Body()))
				if err != nil {
					t.Fatal(err)
				}
				decoded, err = io.ReadAll(zr)
				if err != nil {
					t.Fatal(err)
				}
			case "zstd":
				zr, err := zstd.NewReader(nil)
				if err != nil {
					t.Fatal(err)
				}
				decoded, err = zr.DecodeAll(resp.Body(), nil)
				zr.Close()
				if err != nil {
					t.Fatal(err)
				}
			default:
				decoded = resp.Body()
			}
			if !bytes.Equal(decoded, plain.Body()) {
				t.Errorf("%s %s: decoded body differs", r.uri, tc.accept)
			}
		}
	}
	small := newTestServer(t, Config{MinCompressSize: 1 << 20})
	if enc := small.do(req{uri: "/api/frontend", token: tokFront, headers: []string{"Accept-Encoding", "gzip"}}).Header.ContentEncoding(); len(enc) != 0 {
		t.Errorf("body under MinCompressSize encoded as %s", enc)
	}
}

func TestCORS(t *testing.T) {
	s := newTestServer(t, Config{})
	pre := s.do(req{method: "OPTIONS", uri: "/api/frontend", headers: []string{
		"Origin", "https://app.example", "Access-Control-Request-Method", "GET",
		"Access-Control-Request-Headers", "authorization, content-type",
	}})
	want := map[string]string{
		"Access-Control-Allow-Origin":   "*",
		"Access-Control-Allow-Methods":  "GET",
		"Access-Control-Allow-Headers":  "authorization, content-type",
		"Access-Control-Max-Age":        "172800",
		"Access-Control-Expose-Headers": "ETag",
	}
	if pre.StatusCode() != 204 || len(pre.Body()) != 0 {
		t.Errorf("preflight = %d %q", pre.StatusCode(), pre.Body())
	}
	for k, v := range want {
		if got := string(pre.Header.Peek(k)); got != v {
			t.Errorf("preflight %s = %q, want %q", k, got, v)
		}
	}
	get := s.do(req{uri: "/api/frontend", token: tokFront, headers: []string{"Origin", "https://app.example"}})
	if string(get.Header.Peek("Access-Control-Allow-Origin")) != "*" || !strings.Contains(string(get.Header.Peek("Access-Control-Expose-Headers")), "ETag") {
		t.Errorf("GET CORS headers missing: %s", get.Header.String())
	}

	strict := newTestServer(t, Config{CORS: CORSConfig{
		Origins: []string{"https://good.example"}, Methods: []string{"GET", "POST"},
		AllowedHeaders: []string{"Authorization"}, ExposedHeaders: []string{"X-Edge-Version"}, MaxAge: 60,
	}})
	pre = strict.do(req{method: "OPTIONS", uri: "/api/frontend", headers: []string{"Origin", "https://good.example", "Access-Control-Request-Method", "POST"}})
	want = map[string]string{
		"Access-Control-Allow-Origin":   "https://good.example",
		"Access-Control-Allow-Methods":  "GET, POST",
		"Access-Control-Allow-Headers":  "Authorization",
		"Access-Control-Max-Age":        "60",
		"Access-Control-Expose-Headers": "ETag, X-Edge-Version",
		"Vary":                          "Origin",
	}
	for k, v := range want {
		if got := string(pre.Header.Peek(k)); got != v {
			t.Errorf("strict preflight %s = %q, want %q", k, got, v)
		}
	}
	bad := strict.do(req{method: "OPTIONS", uri: "/api/frontend", headers: []string{"Origin", "https://evil.example", "Access-Control-Request-Method", "GET"}})
	if len(bad.Header.Peek("Access-Control-Allow-Origin")) != 0 {
		t.Errorf("disallowed origin answered with %q", bad.Header.Peek("Access-Control-Allow-Origin"))
	}
	get = strict.do(req{uri: "/api/frontend", token: tokFront, headers: []string{"Origin", "https://good.example"}})
	if string(get.Header.Peek("Access-Control-Allow-Origin")) != "https://good.example" || !strings.Contains(string(get.Header.Peek("Vary")), "Origin") {
		t.Errorf("strict GET headers: %s", get.Header.String())
	}
}

func TestAllowDenyLists(t *testing.T) {
	s := newTestServer(t, Config{
		AllowList: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("2001:db8::/32")},
		DenyList:  []netip.Prefix{netip.MustParsePrefix("192.0.2.66/32")},
	})
	tests := []struct {
		peer   string
		status int
	}{
		{"192.0.2.10", 200},
		{"2001:db8::1", 200},
		{"::ffff:192.0.2.10", 200},
		{"192.0.2.66", 403},
		{"198.51.100.1", 403},
	}
	for _, tt := range tests {
		if got := s.do(req{uri: "/internal-backstage/health", peer: tt.peer}).StatusCode(); got != tt.status {
			t.Errorf("peer %s: %d, want %d", tt.peer, got, tt.status)
		}
	}
}

// TestTrustProxy learns which remoteAddress the context got from a flag
// set with one remoteAddress-targeted flag per candidate address.
func TestTrustProxy(t *testing.T) {
	ips := []string{"10.0.0.1", "10.0.0.2", "10.9.9.9", "192.0.2.10", "203.0.113.9", "192.168.0.1", "2001:db8::1"}
	var fs []string
	for _, ip := range ips {
		fs = append(fs, `{"name":"ip-`+ip+`","enabled":true,"strategies":[{"name":"remoteAddress","parameters":{"IPs":"`+ip+`"}}]}`)
	}
	src := `{"version":2,"features":[` + strings.Join(fs, ",") + `]}`
	mk := func(cfg Config) *testServer {
		cfg.Store = new(flags.Store)
		cfg.Store.Publish("", compile(t, src), "test")
		return newTestServer(t, cfg)
	}
	plain := mk(Config{})
	trust := mk(Config{TrustProxy: true})
	trusted := mk(Config{TrustProxy: true, ProxyTrustedServers: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24")}})
	tests := []struct {
		name    string
		s       *testServer
		peer    string
		headers []string
		want    string
	}{
		{"peer without trust", plain, "192.0.2.10", []string{"X-Forwarded-For", "203.0.113.9"}, "192.0.2.10"},
		{"x-forwarded-for leftmost", trust, "10.0.0.1", []string{"X-Forwarded-For", "203.0.113.9, 10.0.0.2"}, "203.0.113.9"},
		{"forwarded first", trust, "10.0.0.1", []string{"Forwarded", `for="[2001:db8::1]:1234";proto=https`, "X-Forwarded-For", "203.0.113.9"}, "2001:db8::1"},
		{"forwarded with port", trust, "10.0.0.1", []string{"Forwarded", "for=192.168.0.1:80, for=10.0.0.2"}, "192.168.0.1"},
		{"garbage falls back to peer", trust, "10.0.0.1", []string{"X-Forwarded-For", "unknown"}, "10.0.0.1"},
		{"trusted chain from the right", trusted, "10.0.0.2", []string{"Forwarded", "for=203.0.113.9, for=192.168.0.1, for=10.0.0.1"}, "192.168.0.1"},
		{"untrusted peer is the client", trusted, "10.9.9.9", []string{"X-Forwarded-For", "203.0.113.9"}, "10.9.9.9"},
		{"all trusted falls back", trusted, "10.0.0.2", []string{"X-Forwarded-For", "10.0.0.1"}, "10.0.0.2"},
		{"query wins", trust, "10.0.0.1", []string{"X-Forwarded-For", "203.0.113.9"}, "192.0.2.10"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			uri := "/api/frontend"
			if tt.name == "query wins" {
				uri += "?remoteAddress=192.0.2.10"
			}
			body := tt.s.do(req{uri: uri, token: tokFront, peer: tt.peer, headers: tt.headers}).Body()
			if got := toggleNames(t, body); !slices.Equal(got, []string{"ip-" + tt.want}) {
				t.Errorf("enabled = %v, want ip-%s", got, tt.want)
			}
		})
	}
}

func TestNotHydrated511(t *testing.T) {
	store := new(flags.Store)
	store.Publish("development", compile(t, testFlags), "test")
	// "staging" was fetched for project default only.
	store.PublishProjects("staging", compile(t, testFlags), "test", []string{"default"})
	tokens := testTokens()
	tokens.Add(flags.Token{Raw: "other:staging.fe", Type: flags.TokenFrontend, Environment: "staging", Projects: []string{"other"}, Status: flags.TokenValidated})
	tokens.Add(flags.Token{Raw: "default:staging.fe", Type: flags.TokenFrontend, Environment: "staging", Projects: []string{"default"}, Status: flags.TokenValidated})
	tokens.Add(flags.Token{Raw: "other:staging.cl", Type: flags.TokenClient, Environment: "staging", Projects: []string{"other"}, Status: flags.TokenValidated})
	s := newTestServer(t, Config{Store: store, Tokens: tokens})
	tests := []struct {
		name, uri, token string
		status           int
		contains         string
	}{
		{"env without data", "/api/frontend", tokFrontProd, 511, `"access":{"project":"*","environment":"production"}`},
		{"project without data", "/api/proxy/all", "other:staging.fe", 511, `"access":{"project":"other","environment":"staging"}`},
		{"covered project", "/api/frontend", "default:staging.fe", 200, `"toggles"`},
		{"env with data", "/api/frontend", tokFront, 200, `"toggles"`},
		{"client token without data", "/api/client/features", tokClientProd, 403, ""},
		{"client token outside projects", "/api/client/features", "other:staging.cl", 403, ""},
	}
	for _, tt := range tests {
		resp := s.do(req{uri: tt.uri, token: tt.token})
		if resp.StatusCode() != tt.status || !bytes.Contains(resp.Body(), []byte(tt.contains)) {
			t.Errorf("%s: %d %s, want %d with %s", tt.name, resp.StatusCode(), resp.Body(), tt.status, tt.contains)
		}
	}
	body := s.do(req{uri: "/api/frontend", token: tokFrontProd}).Body()
	if !bytes.Contains(body, []byte("/api/client/features")) {
		t.Errorf("511 body does not explain what to do: %s", body)
	}
}

func TestNotReady(t *testing.T) {
	var ready atomic.Bool
	s := newTestServer(t, Config{Store: new(flags.Store), Ready: ready.Load})
	for _, r := range []req{
		{uri: "/internal-backstage/ready"},
		{uri: "/api/frontend", token: tokFront},
		{uri: "/api/client/features", token: tokClient},
	} {
		resp := s.do(r)
		if resp.StatusCode() != 503 || !bytes.Contains(resp.Body(), []byte(`"status":"NOT_READY"`)) {
			t.Errorf("%s: %d %s, want 503 NOT_READY", r.uri, resp.StatusCode(), resp.Body())
		}
	}
	ready.Store(true)
	if got := s.do(req{uri: "/internal-backstage/ready"}).StatusCode(); got != 200 {
		t.Errorf("ready after Ready() = %d", got)
	}
	if got := s.do(req{uri: "/api/frontend", token: tokFront}).StatusCode(); got != 511 {
		t.Errorf("frontend when ready without data = %d, want 511", got)
	}
}

func TestBasePathAndDisabledEndpoints(t *testing.T) {
	s := newTestServer(t, Config{
		BasePath: "/edge/", DisableAllEndpoint: true, DisableMetricsEndpoint: true, DisableFeaturesEndpoint: true,
		DisableTokensEndpoint: true, DisableMetricsBatchEndpoint: true, DisableInstanceDataEndpoint: true,
		TokenHeader: "X-Api-Key",
	})
	tests := []struct {
		r      req
		status int
	}{
		{req{uri: "/edge/api/frontend", headers: []string{"X-Api-Key", tokFront}}, 200},
		{req{uri: "/edge/api/frontend", token: tokFront}, 403},
		{req{uri: "/edge//api/frontend/", headers: []string{"X-Api-Key", tokFront}}, 200},
		{req{uri: "/api/frontend", headers: []string{"X-Api-Key", tokFront}}, 404},
		{req{uri: "/edgeapi/frontend", headers: []string{"X-Api-Key", tokFront}}, 404},
		{req{uri: "/edge/api/frontend/all", headers: []string{"X-Api-Key", tokFront}}, 404},
		{req{uri: "/edge/api/proxy/all", headers: []string{"X-Api-Key", tokFront}}, 404},
		{req{method: "POST", uri: "/edge/api/frontend/all/client/metrics", headers: []string{"X-Api-Key", tokFront}, body: `{"appName":"a"}`}, 404},
		{req{method: "POST", uri: "/edge/api/frontend/client/metrics", headers: []string{"X-Api-Key", tokFront}, body: `{"appName":"a"}`}, 202},
		{req{uri: "/edge/internal-backstage/health"}, 200},
		{req{uri: "/edge/internal-backstage/metrics"}, 404},
		{req{uri: "/edge/internal-backstage/features"}, 404},
		{req{uri: "/edge/internal-backstage/tokens"}, 404},
		{req{uri: "/edge/internal-backstage/metricsbatch"}, 404},
		{req{uri: "/edge/internal-backstage/instancedata"}, 404},
	}
	for _, tt := range tests {
		if got := s.do(tt.r); got.StatusCode() != tt.status {
			t.Errorf("%s %s = %d %s, want %d", tt.r.method, tt.r.uri, got.StatusCode(), got.Body(), tt.status)
		}
	}
}

func TestInstanceDataKeepsDownstream(t *testing.T) {
	s := newTestServer(t, Config{AppName: "edge-a", InstanceID: "edge-a@1"})
	s.do(req{method: "POST", uri: "/api/client/metrics/edge", token: tokClient, body: `{"identifier":"down-1","appName":"down"}`})
	s.do(req{method: "POST", uri: "/api/client/metrics/edge", token: tokClient, body: `{"identifier":"down-1","appName":"down2"}`})
	var got struct {
		This struct {
			Identifier  string `json:"identifier"`
			AppName     string `json:"appName"`
			EdgeVersion string `json:"edgeVersion"`
		} `json:"this_instance"`
		Connected []map[string]any `json:"connected_instances"`
	}
	if err := json.Unmarshal(s.do(req{uri: "/internal-backstage/instancedata"}).Body(), &got); err != nil {
		t.Fatal(err)
	}
	if got.This.Identifier != "edge-a@1" || got.This.AppName != "edge-a" || got.This.EdgeVersion != testVersionLabel ||
		len(got.Connected) != 1 || got.Connected[0]["appName"] != "down2" {
		t.Errorf("instancedata = %+v", got)
	}
}

func TestRejectionsAreLoggedThrottled(t *testing.T) {
	var buf syncBuffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s := newTestServer(t, Config{Logger: logger})
	for range 5 {
		s.do(req{uri: "/api/frontend", token: "nope"})
	}
	s.do(req{uri: "/api/frontend", token: tokFront})
	out := buf.String()
	if n := strings.Count(out, "request rejected"); n != 1 {
		t.Errorf("logged %d rejection lines, want 1 (throttled):\n%s", n, out)
	}
	if !strings.Contains(out, "reason=\"unknown token\"") || !strings.Contains(out, "status=403") {
		t.Errorf("log line lacks reason or status: %s", out)
	}
	if strings.Contains(out, "nope") {
		t.Errorf("log line shows the token: %s", out)
	}
}

// syncBuffer is a bytes.Buffer safe for the server goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
