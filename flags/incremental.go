package flags

import (
	"maps"
	"reflect"
	"slices"
)

// changedSegments returns the ids of the segments whose compiled
// constraints may differ between prev's source and cf: those present in
// only one of them or with different constraints (the last of a repeated
// id counts, as in Compile). It is nil when prev is nil.
func changedSegments(prev *Plan, cf *ClientFeatures) map[int]bool {
	if prev == nil {
		return nil
	}
	last := func(ss []Segment) map[int]*Segment {
		m := make(map[int]*Segment, len(ss))
		for i := range ss {
			m[ss[i].ID] = &ss[i]
		}
		return m
	}
	om, nm := last(prev.src.Segments), last(cf.Segments)
	out := map[int]bool{}
	for id, n := range nm {
		if o, ok := om[id]; !ok || !constraintsEqual(o.Constraints, n.Constraints) {
			out[id] = true
		}
	}
	for id := range om {
		if _, ok := nm[id]; !ok {
			out[id] = true
		}
	}
	return out
}

// usesSegment reports whether a strategy of f references a segment of
// changed.
func usesSegment(f *Feature, changed map[int]bool) bool {
	if len(changed) == 0 {
		return false
	}
	for i := range f.Strategies {
		for _, id := range f.Strategies[i].Segments {
			if changed[id] {
				return true
			}
		}
	}
	return false
}

// sameBacking reports whether two slices of equal length share their
// first element, which for a decoded (or copied) feature means they are
// the same slice: the cheap answer when a Feature value was reused.
func sameBacking[T any](a, b []T) bool {
	return len(a) > 0 && len(a) == len(b) && &a[0] == &b[0]
}

// featureEqual reports whether a and b are equal, nil and empty slices
// told apart (they serialise differently). Slices shared by both, as when
// DecodeClientFeaturesFrom or a merge reused a feature, compare in
// constant time.
func featureEqual(a, b *Feature) bool {
	if a == b {
		return true
	}
	if a.Name != b.Name || a.Type != b.Type || a.Description != b.Description ||
		!optStringEqual(a.CreatedAt, b.CreatedAt) || !optStringEqual(a.LastSeenAt, b.LastSeenAt) ||
		a.Enabled != b.Enabled || a.Stale != b.Stale || a.ImpressionData != b.ImpressionData ||
		a.Project != b.Project {
		return false
	}
	return slicesEqual(a.Strategies, b.Strategies, strategyEqual) &&
		slicesEqual(a.Variants, b.Variants, variantEqual) &&
		slicesEqual(a.Dependencies, b.Dependencies, dependencyEqual)
}

func slicesEqual[T any](a, b []T, eq func(x, y *T) bool) bool {
	if (a == nil) != (b == nil) || len(a) != len(b) {
		return false
	}
	if sameBacking(a, b) {
		return true
	}
	for i := range a {
		if !eq(&a[i], &b[i]) {
			return false
		}
	}
	return true
}

func optStringEqual(a, b *string) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func optIntEqual(a, b *int) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func stringsEqual(a, b []string) bool {
	return (a == nil) == (b == nil) && (sameBacking(a, b) || slices.Equal(a, b))
}

func strategyEqual(a, b *Strategy) bool {
	if a.Name != b.Name || !optIntEqual(a.SortOrder, b.SortOrder) ||
		(a.Segments == nil) != (b.Segments == nil) || !slices.Equal(a.Segments, b.Segments) ||
		!constraintsEqual(a.Constraints, b.Constraints) ||
		(a.Parameters == nil) != (b.Parameters == nil) || len(a.Parameters) != len(b.Parameters) {
		return false
	}
	if a.Parameters != nil && reflect.ValueOf(a.Parameters).UnsafePointer() != reflect.ValueOf(b.Parameters).UnsafePointer() &&
		!maps.Equal(a.Parameters, b.Parameters) {
		return false
	}
	return slicesEqual(a.Variants, b.Variants, variantEqual)
}

func constraintsEqual(a, b []Constraint) bool {
	return slicesEqual(a, b, func(x, y *Constraint) bool {
		return x.ContextName == y.ContextName && x.Operator == y.Operator &&
			x.CaseInsensitive == y.CaseInsensitive && x.Inverted == y.Inverted &&
			x.Value == y.Value && stringsEqual(x.Values, y.Values)
	})
}

func variantEqual(a, b *Variant) bool {
	if a.Name != b.Name || a.Weight != b.Weight || a.WeightType != b.WeightType || a.Stickiness != b.Stickiness {
		return false
	}
	if (a.Payload == nil) != (b.Payload == nil) || (a.Payload != nil && *a.Payload != *b.Payload) {
		return false
	}
	return slicesEqual(a.Overrides, b.Overrides, func(x, y *Override) bool {
		return x.ContextName == y.ContextName && stringsEqual(x.Values, y.Values)
	})
}

func dependencyEqual(a, b *Dependency) bool {
	if a.Feature != b.Feature || (a.Enabled == nil) != (b.Enabled == nil) || (a.Enabled != nil && *a.Enabled != *b.Enabled) {
		return false
	}
	return stringsEqual(a.Variants, b.Variants)
}
