package upstream

import (
	"cmp"
	"slices"
	"strings"

	"github.com/brink-edge/brink/flags"
)

// defaultProject is the project of a feature that names none, as in
// Unleash Edge.
const defaultProject = "default"

// mergeFeatures returns the feature set of an environment after tok
// fetched upd, as Unleash Edge's FeatureCache::modify: the features of the
// projects tok sees are replaced by upd's (all of them for a wildcard
// token), the others kept. Unlike Edge, a kept feature that upd also holds
// is dropped, so a feature never appears twice whatever the token's
// projects. Segments are upd's plus old's that upd does not hold, by id.
// Query follows Edge (the first one known); Meta is upd's when it has one,
// so it describes the newest fetch. Neither old nor upd is modified.
func mergeFeatures(old *flags.ClientFeatures, tok flags.Token, upd *flags.ClientFeatures) *flags.ClientFeatures {
	next := *upd
	next.Features = slices.Clone(upd.Features)
	if next.Features == nil {
		next.Features = []flags.Feature{}
	}
	if old != nil {
		if !tok.AllProjects() {
			names := make(map[string]struct{}, len(upd.Features))
			for i := range upd.Features {
				names[upd.Features[i].Name] = struct{}{}
			}
			for i := range old.Features {
				f := &old.Features[i]
				p := f.Project
				if p == "" {
					p = defaultProject
				}
				if _, dup := names[f.Name]; dup || slices.Contains(tok.Projects, p) {
					continue
				}
				next.Features = append(next.Features, *f)
			}
		}
		next.Segments = mergeSegments(old.Segments, upd.Segments)
		next.Version = max(old.Version, upd.Version)
		if old.Query != nil {
			next.Query = old.Query
		}
		if next.Meta == nil {
			next.Meta = old.Meta
		}
	}
	slices.SortStableFunc(next.Features, func(a, b flags.Feature) int { return strings.Compare(a.Name, b.Name) })
	return &next
}

func mergeSegments(old, upd []flags.Segment) []flags.Segment {
	if old == nil && upd == nil {
		return nil
	}
	out := slices.Clone(upd)
	if out == nil {
		out = []flags.Segment{}
	}
	for _, s := range old {
		if !slices.ContainsFunc(upd, func(u flags.Segment) bool { return u.ID == s.ID }) {
			out = append(out, s)
		}
	}
	slices.SortStableFunc(out, func(a, b flags.Segment) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// unionProjects returns the projects the tokens see together: ["*"] when
// one sees all, else the sorted union.
func unionProjects(toks []flags.Token) []string {
	var out []string
	for _, t := range toks {
		if t.AllProjects() {
			return []string{"*"}
		}
		for _, p := range t.Projects {
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	slices.Sort(out)
	if out == nil {
		out = []string{}
	}
	return out
}
