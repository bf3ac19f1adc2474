// Package dataset generates deterministic, realistic Unleash flag sets for
// the loopback benchmarks and the peer comparison in bench/.
package dataset

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
)

// The wire shapes of an /api/client/features answer, kept local so that the
// generator does not move when the engine's model does.
type (
	// ClientFeatures is the generated document; encode it with encoding/json.
	ClientFeatures struct {
		Version  int       `json:"version"`
		Features []feature `json:"features"`
		Segments []segment `json:"segments,omitempty"`
	}
	feature struct {
		Name           string     `json:"name"`
		Type           string     `json:"type"`
		Description    string     `json:"description"`
		CreatedAt      string     `json:"createdAt"`
		Enabled        bool       `json:"enabled"`
		Stale          bool       `json:"stale"`
		ImpressionData bool       `json:"impressionData"`
		Project        string     `json:"project"`
		Strategies     []strategy `json:"strategies"`
		Variants       []variant  `json:"variants"`
	}
	strategy struct {
		Name        string            `json:"name"`
		SortOrder   int               `json:"sortOrder"`
		Segments    []int             `json:"segments,omitempty"`
		Constraints []constraint      `json:"constraints"`
		Parameters  map[string]string `json:"parameters"`
		Variants    []variant         `json:"variants"`
	}
	constraint struct {
		ContextName     string   `json:"contextName"`
		Operator        string   `json:"operator"`
		CaseInsensitive bool     `json:"caseInsensitive"`
		Inverted        bool     `json:"inverted"`
		Values          []string `json:"values,omitempty"`
		Value           string   `json:"value,omitempty"`
	}
	segment struct {
		ID          int          `json:"id"`
		Constraints []constraint `json:"constraints"`
	}
	variant struct {
		Name       string     `json:"name"`
		Weight     int        `json:"weight"`
		WeightType string     `json:"weightType"`
		Stickiness string     `json:"stickiness"`
		Payload    *payload   `json:"payload,omitempty"`
		Overrides  []override `json:"overrides,omitempty"`
	}
	payload struct {
		Type  string `json:"type"`
		Value string `json:"value"`
	}
	override struct {
		ContextName string   `json:"contextName"`
		Values      []string `json:"values"`
	}
)

var (
	areas   = []string{"checkout", "search", "onboarding", "billing", "profile", "feed", "cart", "pricing", "inbox", "reports", "mobile", "api"}
	actions = []string{"redesign", "fast-path", "banner", "beta", "killswitch", "experiment", "v2", "cache", "limits", "recommendations"}
	kinds   = []string{"release", "release", "experiment", "operational", "kill-switch", "permission"}
	// Segment ids 1..nSegments exist in every dataset.
	nSegments = 4
)

// Generate returns a deterministic dataset of n features that exercises
// what production flag sets hold: gradual rollouts with stickiness and
// group ids, constraints (IN/NOT_IN, dates, semver, inverted), segments,
// user lists, strategy variants, feature variants with JSON and string
// payloads and overrides, and disabled flags. Contexts that set only userId
// and sessionId see about half of the flags enabled.
func Generate(n int, seed uint64) ClientFeatures {
	r := rand.New(rand.NewPCG(seed, 0x6272696e6b)) // "brink"
	cf := ClientFeatures{Version: 2, Features: make([]feature, 0, n)}
	for id := 1; id <= nSegments; id++ {
		cf.Segments = append(cf.Segments, segment{ID: id, Constraints: []constraint{
			{ContextName: "userId", Operator: "NOT_IN", Values: userIDs(r, 3, 100000)},
			{ContextName: "currentTime", Operator: "DATE_AFTER", Value: "2024-0" + strconv.Itoa(id) + "-01T00:00:00.000Z"},
		}})
	}
	for i := range n {
		name := fmt.Sprintf("%s-%s-%04d", areas[i%len(areas)], actions[(i/len(areas))%len(actions)], i)
		f := feature{
			Name:           name,
			Type:           kinds[r.IntN(len(kinds))],
			Description:    "Controls " + strings.ReplaceAll(name[:len(name)-5], "-", " ") + " for the web and mobile clients",
			CreatedAt:      fmt.Sprintf("2025-%02d-%02dT%02d:00:00.000Z", 1+r.IntN(12), 1+r.IntN(28), r.IntN(24)),
			Enabled:        r.IntN(100) < 85,
			ImpressionData: r.IntN(100) < 20,
			Project:        []string{"default", "default", "growth", "platform"}[r.IntN(4)],
			Strategies:     strategies(r, name),
		}
		if r.IntN(100) < 50 {
			f.Variants = variants(r, 2+r.IntN(3), r.IntN(100) < 20)
		}
		// Unleash sends empty lists as [], never null; SDKs rely on it.
		for j := range f.Strategies {
			f.Strategies[j].Constraints = nonNil(f.Strategies[j].Constraints)
			f.Strategies[j].Variants = nonNil(f.Strategies[j].Variants)
		}
		f.Variants = nonNil(f.Variants)
		cf.Features = append(cf.Features, f)
	}
	return cf
}

func strategies(r *rand.Rand, name string) []strategy {
	switch p := r.IntN(100); {
	case p < 25:
		return []strategy{{Name: "default", Parameters: map[string]string{}}}
	case p < 70:
		s := rollout(r, name, []int{5, 10, 25, 50, 50, 75, 90, 100}[r.IntN(8)])
		switch c := r.IntN(100); {
		case c < 20:
			s.Constraints = append(s.Constraints, constraint{ContextName: "userId", Operator: "NOT_IN", Values: userIDs(r, 5, 100000)})
		case c < 35:
			s.Constraints = append(s.Constraints, constraint{ContextName: "currentTime", Operator: "DATE_AFTER", Value: "2025-06-01T00:00:00.000Z"})
		case c < 45:
			// No request sets country: the inverted IN holds for everyone.
			s.Constraints = append(s.Constraints, constraint{ContextName: "country", Operator: "IN", Inverted: true, CaseInsensitive: true, Values: []string{"NO", "SE", "DK", "FI"}})
		case c < 55:
			s.Segments = []int{1 + r.IntN(nSegments)}
		}
		if r.IntN(100) < 20 {
			s.Variants = variants(r, 2, false)
		}
		return []strategy{s}
	case p < 85:
		return []strategy{{Name: "userWithId", Parameters: map[string]string{"userIds": strings.Join(userIDs(r, 8, 1000), ",")}}}
	default:
		// A targeted strategy that plain contexts miss, then a rollout.
		first := rollout(r, name, 100)
		first.Constraints = []constraint{
			{ContextName: "tenant", Operator: "IN", Values: []string{"acme", "globex", "initech", "umbrella"}},
			{ContextName: "appVersion", Operator: "SEMVER_GTE", Value: "4.2.0"},
		}
		second := rollout(r, name, 50)
		second.SortOrder = 1
		return []strategy{first, second}
	}
}

func rollout(r *rand.Rand, name string, pct int) strategy {
	stick := "default"
	if r.IntN(100) < 20 {
		stick = "userId"
	}
	return strategy{
		Name:       "flexibleRollout",
		Parameters: map[string]string{"rollout": strconv.Itoa(pct), "stickiness": stick, "groupId": name},
	}
}

var payloads = []func(r *rand.Rand, v string) *payload{
	func(r *rand.Rand, v string) *payload {
		return &payload{Type: "json", Value: fmt.Sprintf(`{"color":"#%06x","title":"Variant %s","limit":%d}`, r.IntN(1<<24), v, 10*(1+r.IntN(9)))}
	},
	func(r *rand.Rand, v string) *payload {
		return &payload{Type: "string", Value: "copy-" + v + "-" + strconv.Itoa(r.IntN(1000))}
	},
	func(*rand.Rand, string) *payload { return nil },
}

// variants returns k variants whose weights sum to 1000, as Unleash sends them.
func variants(r *rand.Rand, k int, overrides bool) []variant {
	vs := make([]variant, k)
	left := 1000
	for i := range vs {
		v := string(rune('A' + i))
		w := 1000 / k
		if i == k-1 {
			w = left
		}
		left -= w
		vs[i] = variant{Name: "variant-" + v, Weight: w, WeightType: "variable", Stickiness: "default", Payload: payloads[r.IntN(len(payloads))](r, v)}
	}
	if overrides {
		vs[0].Overrides = []override{{ContextName: "userId", Values: userIDs(r, 3, 1000)}}
	}
	return vs
}

func userIDs(r *rand.Rand, k, max int) []string {
	ids := make([]string, k)
	for i := range ids {
		ids[i] = "user-" + strconv.Itoa(r.IntN(max))
	}
	return ids
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
