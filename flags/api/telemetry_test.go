package api

import (
	"encoding/json"
	"testing"

	"github.com/VictoriaMetrics/metrics"
)

// delta runs f and returns how much c grew meanwhile.
func delta(c *metrics.Counter, f func()) uint64 {
	before := c.Get()
	f()
	return c.Get() - before
}

// TestFlagEvaluationCounters checks brink_flag_evaluations_total and
// brink_flag_definitions_served_total against the answers themselves.
func TestFlagEvaluationCounters(t *testing.T) {
	s := newTestServer(t, Config{})
	count := func(body []byte, member string) int {
		t.Helper()
		var m map[string]json.RawMessage
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("answer is not a JSON object: %v: %s", err, body)
		}
		var list []json.RawMessage
		if err := json.Unmarshal(m[member], &list); err != nil {
			t.Fatalf("answer member %s is not a list: %v", member, err)
		}
		return len(list)
	}

	all := s.do(req{uri: "/api/frontend/all?userId=u1", token: tokFront})
	inScope := count(all.Body(), "toggles")
	if inScope < 2 {
		t.Fatalf("test flags give %d toggles in scope, want several", inScope)
	}
	enabled := s.do(req{uri: "/api/frontend?userId=u1", token: tokFront})
	if n := count(enabled.Body(), "toggles"); n >= inScope {
		t.Fatalf("enabled answer has %d toggles of %d: the test needs a disabled one", n, inScope)
	}
	client := s.do(req{uri: "/api/client/features", token: tokClient})
	defs := count(client.Body(), "features")

	tests := []struct {
		name string
		r    req
		c    *metrics.Counter
		want int
	}{
		{"frontend list evaluates the whole scope", req{uri: "/api/frontend?userId=u2", token: tokFront}, frontendEvaluations, inScope},
		{"frontend all", req{uri: "/api/frontend/all?userId=u3", token: tokFront}, frontendEvaluations, inScope},
		{"proxy all POST", req{method: "POST", uri: "/api/proxy/all", token: tokFront, body: `{"userId":"u4"}`, headers: []string{"Content-Type", "application/json"}}, frontendEvaluations, inScope},
		{"frontend single feature", req{uri: "/api/frontend/features/users?userId=u5", token: tokFront}, frontendEvaluations, 1},
		{"frontend unknown feature", req{uri: "/api/frontend/features/nope", token: tokFront}, frontendEvaluations, 0},
		{"frontend bad token", req{uri: "/api/frontend", token: "nope"}, frontendEvaluations, 0},
		{"client features", req{uri: "/api/client/features", token: tokClient}, clientDefinitions, defs},
		{"client feature", req{uri: "/api/client/features/alpha", token: tokClient}, clientDefinitions, 1},
		{"client 304", req{uri: "/api/client/features", token: tokClient, headers: []string{"If-None-Match", string(client.Header.Peek("ETag"))}}, clientDefinitions, 0},
		{"client request evaluates nothing", req{uri: "/api/client/features", token: tokClient}, frontendEvaluations, 0},
	}
	for _, tt := range tests {
		var code int
		got := delta(tt.c, func() { code = s.do(tt.r).StatusCode() })
		if got != uint64(tt.want) {
			t.Errorf("%s (status %d): counter grew by %d, want %d", tt.name, code, got, tt.want)
		}
	}
}
