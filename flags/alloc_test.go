//go:build !race

package flags

import (
	"strconv"
	"testing"
)

// minAllocsPerRun is testing.AllocsPerRun repeated a few times, keeping the
// smallest result: a GC that empties regexp's sync.Pool mid-run must not
// fail the test.
func minAllocsPerRun(runs int, f func()) float64 {
	best := testing.AllocsPerRun(runs, f)
	for i := 0; i < 4 && best != 0; i++ {
		best = min(best, testing.AllocsPerRun(runs, f))
	}
	return best
}

func TestAllocsAppendFrontend(t *testing.T) {
	for _, n := range []int{10, 200, 5000} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			p := Compile(GenerateDataset(n, 1))
			sc := p.Scope([]string{"default", "checkout"}, "")
			ctx := DatasetContext()
			buf := make([]byte, 0, 4<<20)
			for _, all := range []bool{false, true} {
				got := minAllocsPerRun(20, func() {
					buf = p.AppendFrontend(buf[:0], sc, ctx, all)
				})
				if got != 0 {
					t.Errorf("AppendFrontend(all=%v) of %d flags: %v allocations, want 0", all, n, got)
				}
			}
			got := minAllocsPerRun(20, func() {
				for _, i := range sc.idx {
					f := &p.flags[i]
					Sink = p.IsEnabled(f.name, ctx)
					SinkVariant = p.GetVariant(f.name, ctx)
				}
			})
			if got != 0 {
				t.Errorf("IsEnabled+GetVariant over %d flags: %v allocations, want 0", n, got)
			}
			got = minAllocsPerRun(20, func() {
				buf = p.AppendClientFeatures(buf[:0], sc, &Query{Projects: []string{"default"}, Environment: "production"})
			})
			if got != 0 {
				t.Errorf("AppendClientFeatures of %d flags: %v allocations, want 0", n, got)
			}
		})
	}
}

func TestAllocsScopeLookup(t *testing.T) {
	p := Compile(GenerateDataset(200, 1))
	projects := []string{"default", "checkout"}
	sc := p.Scope(projects, "search.")
	if got := minAllocsPerRun(100, func() {
		if p.Scope(projects, "search.") != sc {
			t.Fatal("scope not cached")
		}
	}); got != 0 {
		t.Errorf("cached Scope lookup: %v allocations, want 0", got)
	}
}

func TestAllocsHotFlag(t *testing.T) {
	cf := &ClientFeatures{Version: 2, Segments: []Segment{{ID: 1, Constraints: []Constraint{
		{ContextName: "remoteAddress", Operator: "IN_CIDR", Values: []string{"10.0.0.0/8"}},
	}}}, Features: []Feature{{
		Name: "hot", Enabled: true,
		Strategies: []Strategy{{
			Name:       "flexibleRollout",
			Parameters: map[string]string{"rollout": "100", "stickiness": "default", "groupId": "hot"},
			Segments:   []int{1},
			Constraints: []Constraint{
				{ContextName: "appVersion", Operator: "SEMVER_GTE", Value: "2.0.0-rc.1"},
				{ContextName: "email", Operator: "REGEX", Value: `@example\.com$`, CaseInsensitive: true},
				{ContextName: "email", Operator: "STR_CONTAINS", Values: []string{"EXAMPLE"}, CaseInsensitive: true},
				{ContextName: "tier", Operator: "NUM_GT", Value: "1"},
				{ContextName: "currentTime", Operator: "DATE_AFTER", Value: "2020-01-01T00:00:00Z"},
			},
		}},
		Variants: []Variant{
			{Name: "a", Weight: 500, Payload: &Payload{Type: "string", Value: "A"}},
			{Name: "b", Weight: 500, Payload: &Payload{Type: "json", Value: `{"b":1}`}},
		},
	}}}
	p := Compile(cf)
	ctx := DatasetContext()
	if !p.IsEnabled("hot", ctx) {
		t.Fatalf("hot flag is off; warnings %v", p.Warnings())
	}
	if got := minAllocsPerRun(100, func() { Sink = p.IsEnabled("hot", ctx) }); got != 0 {
		t.Errorf("IsEnabled: %v allocations, want 0", got)
	}
	if got := minAllocsPerRun(100, func() { SinkVariant = p.GetVariant("hot", ctx) }); got != 0 {
		t.Errorf("GetVariant: %v allocations, want 0", got)
	}
	buf := make([]byte, 0, 1024)
	if got := minAllocsPerRun(100, func() { buf, _ = p.AppendFrontendFeature(buf[:0], nil, "hot", ctx) }); got != 0 {
		t.Errorf("AppendFrontendFeature: %v allocations, want 0", got)
	}
}
