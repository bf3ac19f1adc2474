package flags

import (
	"reflect"
	"testing"
)

func TestApplyDelta(t *testing.T) {
	f := func(name string, enabled bool) Feature {
		return Feature{Name: name, Enabled: enabled, Strategies: []Strategy{{Name: "default"}}}
	}
	tests := []struct {
		name         string
		start        ClientFeatures
		events       []DeltaEvent
		wantFeatures []string
		wantEnabled  map[string]bool
		wantSegments []int
	}{
		{
			name: "hydration replaces everything",
			start: ClientFeatures{Version: 2, Features: []Feature{f("old", true)},
				Segments: []Segment{{ID: 9}}},
			events: []DeltaEvent{{EventID: 1, Type: DeltaHydration,
				Features: []Feature{f("b", true), f("a", false)}, Segments: []Segment{{ID: 1}}}},
			wantFeatures: []string{"a", "b"},
			wantEnabled:  map[string]bool{"a": false, "b": true},
			wantSegments: []int{1},
		},
		{
			name:  "update, add, remove in order",
			start: ClientFeatures{Version: 2, Features: []Feature{f("a", false), f("c", true)}},
			events: []DeltaEvent{
				{EventID: 2, Type: DeltaFeatureUpdated, Feature: &Feature{Name: "a", Enabled: true}},
				{EventID: 3, Type: DeltaFeatureUpdated, Feature: &Feature{Name: "b", Enabled: true}},
				{EventID: 4, Type: DeltaFeatureRemoved, FeatureName: "c", Project: "default"},
				{EventID: 5, Type: DeltaFeatureRemoved, FeatureName: "missing"},
			},
			wantFeatures: []string{"a", "b"},
			wantEnabled:  map[string]bool{"a": true, "b": true},
		},
		{
			name:  "segments upsert and remove",
			start: ClientFeatures{Version: 2, Segments: []Segment{{ID: 1}, {ID: 2}}},
			events: []DeltaEvent{
				{Type: DeltaSegmentUpdated, Segment: &Segment{ID: 2, Name: "two"}},
				{Type: DeltaSegmentUpdated, Segment: &Segment{ID: 3}},
				{Type: DeltaSegmentRemoved, SegmentID: 1},
				{Type: "unknown-event"},
			},
			wantSegments: []int{2, 3},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cf := tt.start
			cf.ApplyDelta(tt.events)
			var names []string
			for _, ft := range cf.Features {
				names = append(names, ft.Name)
				if want, ok := tt.wantEnabled[ft.Name]; ok && ft.Enabled != want {
					t.Errorf("feature %q enabled = %v, want %v", ft.Name, ft.Enabled, want)
				}
			}
			if !reflect.DeepEqual(names, tt.wantFeatures) {
				t.Errorf("features = %v, want %v", names, tt.wantFeatures)
			}
			var ids []int
			for _, s := range cf.Segments {
				ids = append(ids, s.ID)
			}
			if !reflect.DeepEqual(ids, tt.wantSegments) {
				t.Errorf("segments = %v, want %v", ids, tt.wantSegments)
			}
		})
	}
}

func TestApplyDeltaDoesNotAliasEvents(t *testing.T) {
	events := []DeltaEvent{{Type: DeltaHydration, Features: []Feature{{Name: "a"}}, Segments: []Segment{}}}
	var cf ClientFeatures
	cf.ApplyDelta(events)
	cf.Features[0].Enabled = true
	if events[0].Features[0].Enabled {
		t.Fatal("ApplyDelta aliases the hydration event's features")
	}
}

func TestApplyDeltaKeepsCompiledPlan(t *testing.T) {
	cf := &ClientFeatures{Version: 2, Features: []Feature{
		{Name: "a", Enabled: true, Strategies: []Strategy{}},
		{Name: "b", Enabled: true, Strategies: []Strategy{}},
	}}
	p := Compile(cf)
	before := string(p.AppendClientFeatures(nil, nil, nil))
	next := *p.Source()
	next.ApplyDelta([]DeltaEvent{
		{Type: DeltaFeatureRemoved, FeatureName: "a"},
		{Type: DeltaFeatureUpdated, Feature: &Feature{Name: "b", Enabled: false}},
	})
	p2 := Compile(&next)
	if !p.IsEnabled("a", nil) || !p.IsEnabled("b", nil) || p.Source().Features[0].Name != "a" {
		t.Fatal("ApplyDelta on a copy changed the original plan")
	}
	if got := string(p.AppendClientFeatures(nil, nil, nil)); got != before {
		t.Fatalf("client features changed: %s", got)
	}
	if p2.Len() != 1 || p2.IsEnabled("b", nil) {
		t.Fatalf("new plan: Len %d, b enabled %v", p2.Len(), p2.IsEnabled("b", nil))
	}
}
