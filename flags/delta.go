package flags

import (
	"slices"
	"strings"
)

// ApplyDelta applies delta events to cf in order, as Unleash Edge does:
// hydration replaces the features and segments, feature-updated replaces
// or adds a feature by name, feature-removed deletes one by name,
// segment-updated replaces or adds a segment by id, segment-removed deletes
// one by id. Unknown event types are ignored. Features end sorted by name.
//
// cf itself is modified, but the feature and segment slices are replaced,
// never written in place, so a Plan compiled from a shallow copy of cf
// keeps working: next := *plan.Source(); next.ApplyDelta(events);
// Compile(&next).
func (cf *ClientFeatures) ApplyDelta(events []DeltaEvent) {
	cf.Features = slices.Clone(cf.Features)
	if cf.Segments != nil {
		cf.Segments = slices.Clone(cf.Segments)
	}
	for i := range events {
		e := &events[i]
		switch e.Type {
		case DeltaHydration:
			cf.Features = slices.Clone(e.Features)
			cf.Segments = slices.Clone(e.Segments)
			if cf.Segments == nil {
				cf.Segments = []Segment{}
			}
		case DeltaFeatureUpdated:
			if e.Feature == nil {
				continue
			}
			if j := slices.IndexFunc(cf.Features, func(f Feature) bool { return f.Name == e.Feature.Name }); j >= 0 {
				cf.Features[j] = *e.Feature
			} else {
				cf.Features = append(cf.Features, *e.Feature)
			}
		case DeltaFeatureRemoved:
			cf.Features = slices.DeleteFunc(cf.Features, func(f Feature) bool { return f.Name == e.FeatureName })
		case DeltaSegmentUpdated:
			if e.Segment == nil {
				continue
			}
			if j := slices.IndexFunc(cf.Segments, func(s Segment) bool { return s.ID == e.Segment.ID }); j >= 0 {
				cf.Segments[j] = *e.Segment
			} else {
				cf.Segments = append(cf.Segments, *e.Segment)
			}
		case DeltaSegmentRemoved:
			if cf.Segments != nil {
				cf.Segments = slices.DeleteFunc(cf.Segments, func(s Segment) bool { return s.ID == e.SegmentID })
			}
		}
	}
	if cf.Version == 0 {
		cf.Version = 2
	}
	slices.SortStableFunc(cf.Features, func(a, b Feature) int { return strings.Compare(a.Name, b.Name) })
}
