package flags

import (
	"slices"
	"strconv"
	"strings"
)

// cflag is one compiled feature.
type cflag struct {
	name       string
	project    string
	enabled    bool
	impression bool
	// static is +1 when the flag is on for every context (enabled, no
	// strategies, no dependencies), -1 when it is off for every context.
	static     int8
	strategies []cstrategy
	// hasStratVariants is true when a strategy carries variants.
	hasStratVariants bool
	variants         *cvariants
	deps             []cdep
	// frags are the pre-serialised EvaluatedToggle answers: fragOff is the
	// disabled toggle, fragOn the enabled one without variant, and every
	// variant's frag index points into frags.
	frags [][]byte
	// client is the feature's /api/client/features JSON.
	client []byte
	src    *Feature
}

const (
	fragOff = 0
	fragOn  = 1
)

// cdep is a compiled dependency on another flag of the plan.
type cdep struct {
	parent      int32 // -1: unknown parent
	wantEnabled bool
	variants    []string // nil: no variant requirement
}

// Compile compiles cf into a Plan. It never fails: a strategy or constraint
// that cannot be compiled (a bad regex or CIDR, an unknown operator or
// strategy, an unknown segment) evaluates to false and is reported by
// Plan.Warnings. cf must not be modified afterwards.
func Compile(cf *ClientFeatures) *Plan {
	if cf == nil {
		cf = &ClientFeatures{Version: 2}
	}
	p := &Plan{src: cf}

	// Sort by name; when names repeat the last one wins, as in Edge.
	order := make([]int, len(cf.Features))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return strings.Compare(cf.Features[a].Name, cf.Features[b].Name)
	})
	kept := order[:0]
	for i, fi := range order {
		if i+1 < len(order) && cf.Features[order[i+1]].Name == cf.Features[fi].Name {
			continue
		}
		kept = append(kept, fi)
	}

	rc := &regexCache{}
	segs := make(map[int][]cconstraint, len(cf.Segments))
	for i := range cf.Segments {
		s := &cf.Segments[i]
		warn := func(msg string) {
			p.warnings = append(p.warnings, "segment "+strconv.Itoa(s.ID)+": "+msg)
		}
		cs := make([]cconstraint, 0, len(s.Constraints))
		for j := range s.Constraints {
			cs = append(cs, compileConstraint(&s.Constraints[j], rc, warn))
		}
		segs[s.ID] = cs
	}

	p.flags = make([]cflag, len(kept))
	p.index = make(map[string]int32, len(kept))
	for i, fi := range kept {
		p.index[cf.Features[fi].Name] = int32(i)
	}
	for i, fi := range kept {
		p.compileFlag(&p.flags[i], &cf.Features[fi], segs, rc)
	}
	buf := make([]byte, 0, 320*len(p.flags))
	spans := make([][]span, len(p.flags))
	for i := range p.flags {
		buf, spans[i] = p.buildFragments(buf, &p.flags[i])
	}
	for i := range p.flags {
		p.flags[i].frags = fragSlices(buf, spans[i])
	}
	p.buildClientJSON()
	all := &Scope{plan: p, idx: make([]int32, len(p.flags)), in: make([]uint64, (len(p.flags)+63)/64)}
	for i := range p.flags {
		all.idx[i] = int32(i)
		all.in[i/64] |= 1 << (i % 64)
	}
	p.all = all
	return p
}

func (p *Plan) compileFlag(f *cflag, src *Feature, segs map[int][]cconstraint, rc *regexCache) {
	warn := func(msg string) {
		p.warnings = append(p.warnings, "feature "+strconv.Quote(src.Name)+": "+msg)
	}
	f.name = src.Name
	f.src = src
	f.project = src.Project
	if f.project == "" {
		f.project = "default"
	}
	f.enabled = src.Enabled
	f.impression = src.ImpressionData
	for i := range src.Strategies {
		cs := compileStrategy(&src.Strategies[i], src.Name, segs, rc, warn)
		if cs.variants != nil {
			f.hasStratVariants = true
		}
		f.strategies = append(f.strategies, cs)
	}
	stick := ""
	if len(src.Variants) > 0 {
		stick = src.Variants[0].Stickiness
	}
	f.variants = compileVariants(src.Variants, variantStickiness(stick), src.Name+":")
	for _, d := range src.Dependencies {
		cd := cdep{parent: p.lookup(d.Feature), wantEnabled: d.Enabled == nil || *d.Enabled, variants: d.Variants}
		if cd.parent < 0 {
			warn("depends on unknown feature " + strconv.Quote(d.Feature) + "; it evaluates to false")
		}
		f.deps = append(f.deps, cd)
	}
	switch {
	case !f.enabled:
		f.static = -1
	case len(f.deps) == 0 && len(f.strategies) == 0:
		f.static = 1
	case len(f.deps) == 0 && allFalse(f.strategies):
		f.static = -1
	}
}

func allFalse(ss []cstrategy) bool {
	for i := range ss {
		if ss[i].kind != stratFalse {
			return false
		}
	}
	return true
}
