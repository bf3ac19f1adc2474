package flags

import (
	"math/rand/v2"
	"strconv"
)

// GenerateDataset returns a deterministic, realistic payload of n features
// for tests and benchmarks: the same (n, seed) always gives the same
// payload. Features mix default, flexibleRollout (with IN, STR, NUM, DATE,
// SEMVER, REGEX and IN_CIDR constraints, some inverted or case-insensitive),
// userWithId and remoteAddress strategies, segments, feature and strategy
// variants with string and JSON payloads, and dependencies on earlier
// features. DatasetContext returns a context that exercises it.
func GenerateDataset(n int, seed int64) *ClientFeatures {
	r := rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15))
	cf := &ClientFeatures{Version: 2, Features: make([]Feature, 0, n)}
	for id := 1; id <= 5; id++ {
		cf.Segments = append(cf.Segments, Segment{
			ID:          id,
			Name:        "segment-" + strconv.Itoa(id),
			Constraints: []Constraint{genConstraint(r)},
		})
	}
	areas := []string{"checkout", "search", "profile", "billing", "mobile", "growth"}
	projects := []string{"default", "default", "checkout", "search", "mobile"}
	var parents []string
	for i := range n {
		name := areas[r.IntN(len(areas))] + ".feature-" + strconv.Itoa(i)
		f := Feature{
			Name:           name,
			Type:           []string{"release", "experiment", "operational", "kill-switch"}[r.IntN(4)],
			Project:        projects[r.IntN(len(projects))],
			Enabled:        r.IntN(100) >= 15,
			ImpressionData: r.IntN(10) == 0,
			Strategies:     []Strategy{},
			Variants:       []Variant{},
		}
		switch k := r.IntN(100); {
		case k < 12:
			f.Strategies = append(f.Strategies, Strategy{Name: "default", Parameters: map[string]string{}})
		case k < 62:
			s := Strategy{Name: "flexibleRollout", Parameters: map[string]string{
				"rollout":    strconv.Itoa([]int{0, 10, 25, 50, 75, 100, 100}[r.IntN(7)]),
				"stickiness": []string{"default", "default", "userId", "sessionId"}[r.IntN(4)],
				"groupId":    name,
			}}
			for range r.IntN(3) {
				s.Constraints = append(s.Constraints, genConstraint(r))
			}
			if r.IntN(4) == 0 {
				s.Segments = []int{1 + r.IntN(len(cf.Segments))}
			}
			if r.IntN(6) == 0 {
				s.Variants = genVariants(r, 2)
			}
			f.Strategies = append(f.Strategies, s)
		case k < 74:
			ids := ""
			for j := range 3 + r.IntN(8) {
				if j > 0 {
					ids += ","
				}
				ids += "user-" + strconv.Itoa(r.IntN(100))
			}
			f.Strategies = append(f.Strategies, Strategy{Name: "userWithId", Parameters: map[string]string{"userIds": ids}})
		case k < 80:
			f.Strategies = append(f.Strategies, Strategy{Name: "remoteAddress", Parameters: map[string]string{"IPs": "10.0.0.0/8, 192.168.1.7, 2001:db8::/32"}})
		default:
			// Two strategies: a constrained rollout OR a segment-gated default.
			f.Strategies = append(f.Strategies,
				Strategy{Name: "flexibleRollout", Parameters: map[string]string{"rollout": "30", "stickiness": "default", "groupId": name},
					Constraints: []Constraint{genConstraint(r)}},
				Strategy{Name: "default", Segments: []int{1 + r.IntN(len(cf.Segments))}})
		}
		if r.IntN(4) == 0 {
			f.Variants = genVariants(r, 2+r.IntN(3))
		}
		if len(parents) > 0 && r.IntN(12) == 0 {
			d := Dependency{Feature: parents[r.IntN(len(parents))]}
			if r.IntN(3) == 0 {
				no := false
				d.Enabled = &no
			}
			f.Dependencies = []Dependency{d}
		} else if r.IntN(3) == 0 {
			parents = append(parents, name)
		}
		cf.Features = append(cf.Features, f)
	}
	return cf
}

// DatasetContext returns a context with userId, sessionId, remoteAddress
// and the properties GenerateDataset's constraints read.
func DatasetContext() *Context {
	c := &Context{}
	c.Set("userId", "user-42")
	c.Set("sessionId", "5f1c0e7a-33b9-4d0a-9b1e-2a51c3f0d6aa")
	c.Set("remoteAddress", "10.20.30.40")
	c.Set("appName", "web")
	c.Set("environment", "production")
	c.SetProperty("appVersion", "2.4.1")
	c.SetProperty("email", "Alice@Example.com")
	c.SetProperty("tier", "3")
	c.SetProperty("country", "NO")
	return c
}

func genConstraint(r *rand.Rand) Constraint {
	switch r.IntN(9) {
	case 0:
		return Constraint{ContextName: "appName", Operator: "IN", Values: []string{"web", "ios", "android"}}
	case 1:
		return Constraint{ContextName: "country", Operator: "NOT_IN", Values: []string{"SE", "DK"}, Inverted: r.IntN(5) == 0}
	case 2:
		return Constraint{ContextName: "email", Operator: "STR_ENDS_WITH", Values: []string{"@example.com", "@example.org"}, CaseInsensitive: true}
	case 3:
		return Constraint{ContextName: "tier", Operator: []string{"NUM_GTE", "NUM_LT", "NUM_EQ"}[r.IntN(3)], Value: strconv.Itoa(1 + r.IntN(4))}
	case 4:
		return Constraint{ContextName: "currentTime", Operator: "DATE_AFTER", Value: "2024-0" + strconv.Itoa(1+r.IntN(9)) + "-15T08:00:00.000Z"}
	case 5:
		return Constraint{ContextName: "appVersion", Operator: []string{"SEMVER_GTE", "SEMVER_LT", "SEMVER_GT"}[r.IntN(3)], Value: "2." + strconv.Itoa(r.IntN(6)) + ".0-beta.1"}
	case 6:
		return Constraint{ContextName: "email", Operator: "REGEX", Value: `^[a-z]+@example\.(com|org)$`, CaseInsensitive: true}
	case 7:
		return Constraint{ContextName: "remoteAddress", Operator: "IN_CIDR", Values: []string{"10.0.0.0/8", "172.16.0.0/12", "2001:db8::/32"}}
	default:
		return Constraint{ContextName: "environment", Operator: "IN", Values: []string{"production", "staging"}}
	}
}

func genVariants(r *rand.Rand, n int) []Variant {
	names := []string{"control", "treatment-a", "treatment-b", "treatment-c", "holdout"}
	vs := make([]Variant, 0, n)
	for i := range n {
		v := Variant{Name: names[i%len(names)], Weight: 1000 / n, WeightType: "variable", Stickiness: "default"}
		switch r.IntN(3) {
		case 0:
			v.Payload = &Payload{Type: "string", Value: "banner-" + strconv.Itoa(r.IntN(1000))}
		case 1:
			v.Payload = &Payload{Type: "json", Value: `{"color":"#` + strconv.Itoa(100000+r.IntN(899999)) + `","limit":` + strconv.Itoa(r.IntN(50)) + `}`}
		}
		vs = append(vs, v)
	}
	return vs
}
